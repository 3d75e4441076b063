import { parseArgs } from 'node:util';
import { DEFAULT_QUEUE_LIMIT } from './queue/online-registry';
import { DEFAULT_LIMITS, type ServerLimits } from './rpc/server';
import { SESSION_TTL_MS, type RegistrationPolicy } from './chat/accounts';
import { DEFAULT_PASSWORD_COST } from './chat/passwords';
import { LOG_LEVELS, type LogFormat, type LogLevel } from './log';
import { DEFAULT_FILE_LIMITS, type FileLimits } from './files/file-transfers';

const MIB = 1024 * 1024;

/** Settings of `tinychat serve`. */
export interface ServeConfig {
  command: 'serve';
  host: string;
  port: number;
  db: string;
  bus?: string;
  nodeName?: string;
  queueLimit: number;
  registration: RegistrationPolicy;
  sessionTtlMs: number;
  passwordCost: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  limits: ServerLimits;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** HOST:PORT to serve Prometheus metrics on; none turns them off. */
  metricsAddress?: string;
  /** Messages older than this many days are deleted; 0 keeps them for ever. */
  retentionDays: number;
  /** Where file contents live with an SQLite database (absent: next to it; files live in PostgreSQL with a postgres:// database). */
  filesDir?: string;
  /** Limits on files. */
  fileLimits: FileLimits;
}

/** Settings of `tinychat backup` and `tinychat restore`. */
export interface BackupConfig {
  command: 'backup' | 'restore';
  /** The live SQLite database file. */
  db: string;
  /** backup: the copy to write; restore: the copy to bring back. */
  file: string;
}

/** Settings of `tinychat chat`. */
export interface ChatConfig {
  command: 'chat';
  server: string;
  user: string | undefined;
  passwordFile?: string;
  plain: boolean;
  tls: boolean;
  ca?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** How long to keep trying while the server cannot be reached at start; 0 tries once. */
  connectTimeoutMs: number;
  /** The full-screen client shows times with seconds. */
  seconds: boolean;
}

/** Settings of `tinychat user`. */
export interface UserConfig {
  command: 'user';
  action: 'add' | 'del' | 'passwd' | 'list';
  name?: string;
  db: string;
  bus?: string;
  passwordFile?: string;
}

/** What the command line asked for. */
export type Config = ServeConfig | ChatConfig | UserConfig | BackupConfig | { command: 'help'; text: string };

/** True for a --db value that names a PostgreSQL database rather than an SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** Thrown for a command line that cannot be run; the message says how to fix it. */
export class UsageError extends Error {}

export const DEFAULT_PORT = 50051;

/**
 * One option of a subcommand: its flag, environment variable, default and
 * help line. Help texts and parsing both come from these tables.
 */
interface Option {
  flag: string;
  env?: string;
  kind: 'string' | 'integer' | 'boolean';
  value?: string;
  help: string;
  default?: string | number;
  min?: number;
  max?: number;
  choices?: string[];
}

const SERVE_OPTIONS: Option[] = [
  { flag: 'host', env: 'TINYCHAT_HOST', kind: 'string', value: 'HOST', default: '127.0.0.1', help: 'address to listen on' },
  { flag: 'port', env: 'TINYCHAT_PORT', kind: 'integer', value: 'PORT', default: DEFAULT_PORT, min: 0, max: 65535, help: 'port to listen on, 0 for any free one' },
  { flag: 'db', env: 'TINYCHAT_DB', kind: 'string', value: 'PATH|URL', default: './tinychat.db', help: 'SQLite database file, :memory:, or postgres://USER@HOST:PORT/DB for several nodes' },
  { flag: 'bus', env: 'TINYCHAT_BUS', kind: 'string', value: 'URL', help: 'nats://HOST:PORT joins the other nodes on the same PostgreSQL database (none: a single node)' },
  { flag: 'node-name', env: 'TINYCHAT_NODE_NAME', kind: 'string', value: 'NAME', help: 'this node\'s name in logs, health and clients (default HOST:PORT)' },
  { flag: 'registration', env: 'TINYCHAT_REGISTRATION', kind: 'string', value: 'open|closed', default: 'open', choices: ['open', 'closed'], help: 'open: a name\'s first login registers it; closed: only `tinychat user add`' },
  { flag: 'session-days', env: 'TINYCHAT_SESSION_DAYS', kind: 'integer', value: 'N', default: SESSION_TTL_MS / 86_400_000, min: 1, max: 3650, help: 'days a login token stays valid' },
  { flag: 'password-cost', env: 'TINYCHAT_PASSWORD_COST', kind: 'integer', value: 'N', default: DEFAULT_PASSWORD_COST, min: 10, max: 20, help: 'scrypt cost of new password hashes, as log2 N (each step doubles time and memory)' },
  { flag: 'tls-cert', env: 'TINYCHAT_TLS_CERT', kind: 'string', value: 'FILE', help: 'serve TLS with this certificate chain (PEM)…' },
  { flag: 'tls-key', env: 'TINYCHAT_TLS_KEY', kind: 'string', value: 'FILE', help: '…and this private key (PEM)' },
  { flag: 'tls-client-ca', env: 'TINYCHAT_TLS_CLIENT_CA', kind: 'string', value: 'FILE', help: 'require client certificates signed by this CA (mutual TLS)' },
  { flag: 'queue-limit', env: 'TINYCHAT_QUEUE_LIMIT', kind: 'integer', value: 'N', default: DEFAULT_QUEUE_LIMIT, min: 16, max: 1_000_000, help: 'deliveries a stream may fall behind before it is cut off' },
  { flag: 'max-body-bytes', env: 'TINYCHAT_MAX_BODY_BYTES', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.maxBodyBytes, min: 1, max: 1_048_576, help: 'largest message body, in UTF-8 bytes' },
  { flag: 'max-receive-bytes', env: 'TINYCHAT_MAX_RECEIVE_BYTES', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.maxReceiveBytes, min: 1024, max: 16_777_216, help: 'largest gRPC request, in bytes' },
  { flag: 'send-rate', env: 'TINYCHAT_SEND_RATE', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.sendRate.perSecond, min: 0, max: 1_000_000, help: 'messages per second per user, on average (0: no limit)' },
  { flag: 'send-burst', env: 'TINYCHAT_SEND_BURST', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.sendRate.burst, min: 1, max: 1_000_000, help: 'messages per user allowed at once' },
  { flag: 'room-members', env: 'TINYCHAT_ROOM_MEMBERS', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.rooms.maxMembers, min: 1, max: 1_000_000, help: 'members a room may have' },
  { flag: 'rooms-per-user', env: 'TINYCHAT_ROOMS_PER_USER', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.rooms.maxRooms, min: 1, max: 1_000_000, help: 'rooms one user may be in at once' },
  { flag: 'room-post-rate', env: 'TINYCHAT_ROOM_POST_RATE', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.rooms.postRate.perSecond, min: 0, max: 1_000_000, help: 'room messages per second per user, on average (0: no limit)' },
  { flag: 'room-post-burst', env: 'TINYCHAT_ROOM_POST_BURST', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.rooms.postRate.burst, min: 1, max: 1_000_000, help: 'room messages per user allowed at once' },
  { flag: 'login-attempts', env: 'TINYCHAT_LOGIN_ATTEMPTS', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.login.perName, min: 0, max: 1_000_000, help: 'failed logins per name per window (0: no limit)' },
  { flag: 'login-window-seconds', env: 'TINYCHAT_LOGIN_WINDOW_SECONDS', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.login.windowMs / 1000, min: 1, max: 86_400, help: 'the window the failed-login limits count over' },
  { flag: 'login-attempts-per-address', env: 'TINYCHAT_LOGIN_ATTEMPTS_PER_ADDRESS', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.login.perAddress, min: 0, max: 1_000_000, help: 'failed logins per client address per window (0: no limit)' },
  { flag: 'max-streams-per-user', env: 'TINYCHAT_MAX_STREAMS_PER_USER', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.maxStreamsPerUser, min: 0, max: 1_000_000, help: 'open streams per user (0: no limit)' },
  { flag: 'max-connections-per-address', env: 'TINYCHAT_MAX_CONNECTIONS_PER_ADDRESS', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.maxConnectionsPerAddress, min: 0, max: 1_000_000, help: 'busy connections per client address (0: no limit)' },
  { flag: 'keepalive-seconds', env: 'TINYCHAT_KEEPALIVE_SECONDS', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.keepaliveMs / 1000, min: 1, max: 86_400, help: 'ping each connection this often; drop it if unanswered' },
  { flag: 'keepalive-timeout-seconds', env: 'TINYCHAT_KEEPALIVE_TIMEOUT_SECONDS', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.keepaliveTimeoutMs / 1000, min: 1, max: 3600, help: 'how long a keepalive ping may go unanswered' },
  { flag: 'idle-seconds', env: 'TINYCHAT_IDLE_SECONDS', kind: 'integer', value: 'N', default: DEFAULT_LIMITS.idleTimeoutMs / 1000, min: 1, max: 86_400, help: 'close connections with no call for this long' },
  { flag: 'retention-days', env: 'TINYCHAT_RETENTION_DAYS', kind: 'integer', value: 'N', default: 0, min: 0, max: 36_500, help: 'delete messages older than this many days (0: keep them for ever)' },
  { flag: 'files-dir', env: 'TINYCHAT_FILES_DIR', kind: 'string', value: 'DIR', help: 'where file contents live with an SQLite database (default: next to it, DB name + "-files"); with PostgreSQL they live in the database' },
  { flag: 'max-file-mib', env: 'TINYCHAT_MAX_FILE_MIB', kind: 'integer', value: 'N', default: DEFAULT_FILE_LIMITS.maxFileBytes / MIB, min: 1, max: 1_048_576, help: 'largest file, in MiB' },
  { flag: 'file-quota-mib', env: 'TINYCHAT_FILE_QUOTA_MIB', kind: 'integer', value: 'N', default: DEFAULT_FILE_LIMITS.quotaBytes / MIB, min: 0, max: 1_073_741_824, help: 'MiB of files each user may hold (0: no limit)' },
  { flag: 'uploads-per-user', env: 'TINYCHAT_UPLOADS_PER_USER', kind: 'integer', value: 'N', default: DEFAULT_FILE_LIMITS.uploadsPerUser, min: 0, max: 1000, help: 'uploads one user may have in progress at once, per node (0: no limit)' },
  { flag: 'metrics-address', env: 'TINYCHAT_METRICS_ADDRESS', kind: 'string', value: 'HOST:PORT', help: 'serve Prometheus metrics at http://HOST:PORT/metrics (none: off)' },
  { flag: 'log-format', env: 'TINYCHAT_LOG_FORMAT', kind: 'string', value: 'text|json', choices: ['text', 'json'], help: 'log lines as text or as one JSON object each (default: text on a terminal, else json)' },
  { flag: 'log-level', env: 'TINYCHAT_LOG_LEVEL', kind: 'string', value: LOG_LEVELS.join('|'), default: 'info', choices: [...LOG_LEVELS], help: 'the least severe events logged' },
];

const BACKUP_OPTIONS: Option[] = [
  { flag: 'db', env: 'TINYCHAT_DB', kind: 'string', value: 'PATH', default: './tinychat.db', help: "the server's SQLite database file" },
];

const CHAT_OPTIONS: Option[] = [
  { flag: 'server', env: 'TINYCHAT_SERVER', kind: 'string', value: 'HOST:PORT', default: `127.0.0.1:${DEFAULT_PORT}`, help: 'server to connect to' },
  { flag: 'user', env: 'TINYCHAT_USER', kind: 'string', value: 'NAME', help: 'user name to log in as' },
  { flag: 'password-file', env: 'TINYCHAT_PASSWORD_FILE', kind: 'string', value: 'FILE', help: 'read the password from this file (else TINYCHAT_PASSWORD, else a prompt)' },
  { flag: 'plain', kind: 'boolean', help: 'line-based client (always used when stdin is not a terminal)' },
  { flag: 'seconds', env: 'TINYCHAT_SECONDS', kind: 'boolean', help: 'show seconds in the full-screen client\'s times (HH:MM:SS)' },
  { flag: 'connect-timeout', env: 'TINYCHAT_CONNECT_TIMEOUT', kind: 'integer', value: 'SECONDS', default: 30, min: 0, max: 86_400, help: 'keep trying this long while the server cannot be reached at start (0: try once)' },
  { flag: 'tls', env: 'TINYCHAT_TLS', kind: 'boolean', help: 'connect with TLS (checked against the system CAs, or --ca)' },
  { flag: 'ca', env: 'TINYCHAT_CA', kind: 'string', value: 'FILE', help: 'trust this CA certificate (PEM); implies --tls' },
  { flag: 'tls-cert', env: 'TINYCHAT_TLS_CERT', kind: 'string', value: 'FILE', help: 'client certificate for mutual TLS (PEM)…' },
  { flag: 'tls-key', env: 'TINYCHAT_TLS_KEY', kind: 'string', value: 'FILE', help: '…and its private key (PEM)' },
];

const USER_OPTIONS: Option[] = [
  { flag: 'db', env: 'TINYCHAT_DB', kind: 'string', value: 'PATH|URL', default: './tinychat.db', help: "the server's database: its SQLite file, or its postgres:// URL" },
  { flag: 'bus', env: 'TINYCHAT_BUS', kind: 'string', value: 'URL', help: "the nodes' nats:// bus, so that running nodes close ended sessions at once (else within a second)" },
  { flag: 'password-file', env: 'TINYCHAT_PASSWORD_FILE', kind: 'string', value: 'FILE', help: 'read the new password from this file (else TINYCHAT_PASSWORD, else a prompt)' },
];

function helpText(usage: string, summary: string, options: Option[], footer = ''): string {
  const rows = options.map((o) => {
    const left = `--${o.flag}${o.value ? ` ${o.value}` : ''}`;
    const extra = [o.env, o.default !== undefined ? `default ${o.default}` : undefined].filter(Boolean).join(', ');
    return { left, right: extra ? `${o.help} (${extra})` : o.help };
  });
  rows.push({ left: '-h, --help', right: 'show this help' });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  return `usage: ${usage}\n\n${summary}\n\n${rows.map((r) => `  ${r.left.padEnd(width)}${r.right}`).join('\n')}\n${footer}`;
}

const SERVE_HELP = helpText('tinychat serve [options]', 'Runs the TinyChat server.', SERVE_OPTIONS);
const CHAT_HELP = helpText('tinychat chat [options]', 'Starts a chat client.', CHAT_OPTIONS, '\nType /COMMANDS once connected to see every command.\n');
const USER_HELP = helpText(
  'tinychat user add|del|passwd NAME [options]\n       tinychat user list [options]',
  [
    "Manages accounts in the server's database (the server may be running).",
    '  add NAME      create an account with a password',
    '  del NAME      disable an account: it cannot log in, its sessions end; its messages stay',
    '  passwd NAME   set a new password (also re-enables a disabled account); its sessions end',
    '  list          list accounts',
  ].join('\n'),
  USER_OPTIONS,
);

const BACKUP_HELP = helpText(
  'tinychat backup [--db PATH] OUT',
  [
    'Writes a consistent copy of the SQLite database to OUT, while the server runs',
    "(SQLite's online backup). OUT must not exist yet. For PostgreSQL use pg_dump.",
  ].join('\n'),
  BACKUP_OPTIONS,
);
const RESTORE_HELP = helpText(
  'tinychat restore [--db PATH] BACKUP',
  [
    'Replaces the SQLite database with BACKUP, a file written by `tinychat backup`.',
    'Stop the server first: restore refuses a database that a process has open.',
  ].join('\n'),
  BACKUP_OPTIONS,
);

const MAIN_HELP = `usage: tinychat <command> [options]

Commands:
  serve    run the server            (tinychat serve --help)
  chat     start a chat client       (tinychat chat --help)
  user     manage accounts           (tinychat user --help)
  backup   copy a live database      (tinychat backup --help)
  restore  bring a backup back       (tinychat restore --help)
`;

type Values = Record<string, string | number | boolean | undefined>;

/** Parses flags, falling back to the environment, then to defaults; validates numbers and choices. */
function readOptions(command: string, options: Option[], args: string[], env: NodeJS.ProcessEnv): { values: Values; positionals: string[]; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        ...Object.fromEntries(options.map((o) => [o.flag, { type: o.kind === 'boolean' ? ('boolean' as const) : ('string' as const) }])),
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message} — run \`tinychat ${command} --help\` to see the options`);
  }
  const values: Values = {};
  for (const option of options) {
    const given = (parsed.values as Record<string, string | boolean | undefined>)[option.flag];
    const fromEnv = option.env ? env[option.env] : undefined;
    if (option.kind === 'boolean') {
      values[option.flag] = given === true || (fromEnv !== undefined && fromEnv !== '' && fromEnv !== '0' && fromEnv !== 'false');
      continue;
    }
    const text = (given as string | undefined) ?? (fromEnv === '' ? undefined : fromEnv);
    if (text === undefined) {
      values[option.flag] = option.default;
    } else if (option.kind === 'integer') {
      const value = Number(text);
      if (!/^\d+$/.test(text) || value < (option.min ?? 0) || value > (option.max ?? Number.MAX_SAFE_INTEGER)) {
        throw new UsageError(`--${option.flag} must be a whole number from ${option.min ?? 0} to ${option.max}, not "${text}"`);
      }
      values[option.flag] = value;
    } else {
      if (option.choices && !option.choices.includes(text)) {
        throw new UsageError(`--${option.flag} must be one of ${option.choices.join(', ')}, not "${text}"`);
      }
      values[option.flag] = text;
    }
  }
  return { values, positionals: parsed.positionals, help: Boolean(parsed.values.help) };
}

const str = (v: Values[string]) => v as string | undefined;
const num = (v: Values[string]) => v as number;

/** Reads argv (without node and script) and the TINYCHAT_* environment into one Config. */
export function readConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    return { command: 'help', text: MAIN_HELP };
  }
  if (command === 'serve') return readServe(rest, env);
  if (command === 'chat') return readChat(rest, env);
  if (command === 'user') return readUser(rest, env);
  if (command === 'backup' || command === 'restore') return readBackup(command, rest, env);
  throw new UsageError(`unknown command "${command}" — run \`tinychat --help\` to see the commands`);
}

function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}" — run \`tinychat ${command} --help\` to see the options`);
  }
}

function readServe(args: string[], env: NodeJS.ProcessEnv): Config {
  const { values: v, positionals, help } = readOptions('serve', SERVE_OPTIONS, args, env);
  if (help) return { command: 'help', text: SERVE_HELP };
  noPositionals('serve', positionals);
  if (Boolean(v['tls-cert']) !== Boolean(v['tls-key'])) {
    throw new UsageError('--tls-cert and --tls-key go together: pass both to serve TLS');
  }
  if (v['tls-client-ca'] && !v['tls-cert']) {
    throw new UsageError('--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first');
  }
  if (v['metrics-address'] !== undefined) parseHostPort('--metrics-address', str(v['metrics-address'])!);
  if (v['files-dir'] && isPostgresUrl(str(v.db)!)) {
    throw new UsageError('--files-dir is for an SQLite database: with PostgreSQL, file contents live in the database every node reads — drop --files-dir');
  }
  if (v.bus && !isPostgresUrl(str(v.db)!)) {
    throw new UsageError(
      '--bus joins nodes that share one PostgreSQL database, but --db is an SQLite file, which belongs to one node — pass --db postgres://USER@HOST:PORT/DB, or drop --bus',
    );
  }
  return {
    command: 'serve',
    host: str(v.host)!,
    port: num(v.port),
    db: str(v.db)!,
    bus: str(v.bus),
    nodeName: str(v['node-name']),
    queueLimit: num(v['queue-limit']),
    registration: str(v.registration) as RegistrationPolicy,
    sessionTtlMs: num(v['session-days']) * 86_400_000,
    passwordCost: num(v['password-cost']),
    tlsCert: str(v['tls-cert']),
    tlsKey: str(v['tls-key']),
    tlsClientCa: str(v['tls-client-ca']),
    limits: {
      maxBodyBytes: num(v['max-body-bytes']),
      maxReceiveBytes: num(v['max-receive-bytes']),
      sendRate: { perSecond: num(v['send-rate']), burst: num(v['send-burst']) },
      login: { perName: num(v['login-attempts']), perAddress: num(v['login-attempts-per-address']), windowMs: num(v['login-window-seconds']) * 1000 },
      maxStreamsPerUser: num(v['max-streams-per-user']),
      maxConnectionsPerAddress: num(v['max-connections-per-address']),
      rooms: {
        maxMembers: num(v['room-members']),
        maxRooms: num(v['rooms-per-user']),
        postRate: { perSecond: num(v['room-post-rate']), burst: num(v['room-post-burst']) },
      },
      keepaliveMs: num(v['keepalive-seconds']) * 1000,
      keepaliveTimeoutMs: num(v['keepalive-timeout-seconds']) * 1000,
      idleTimeoutMs: num(v['idle-seconds']) * 1000,
    },
    // A person at a terminal reads text; a service manager or pipe feeds a log pipeline.
    logFormat: (str(v['log-format']) ?? (process.stderr.isTTY ? 'text' : 'json')) as LogFormat,
    logLevel: str(v['log-level']) as LogLevel,
    metricsAddress: str(v['metrics-address']),
    retentionDays: num(v['retention-days']),
    filesDir: str(v['files-dir']),
    fileLimits: {
      maxFileBytes: num(v['max-file-mib']) * MIB,
      quotaBytes: num(v['file-quota-mib']) * MIB,
      uploadsPerUser: num(v['uploads-per-user']),
    },
  };
}

function readChat(args: string[], env: NodeJS.ProcessEnv): Config {
  const { values: v, positionals, help } = readOptions('chat', CHAT_OPTIONS, args, env);
  if (help) return { command: 'help', text: CHAT_HELP };
  noPositionals('chat', positionals);
  if (Boolean(v['tls-cert']) !== Boolean(v['tls-key'])) {
    throw new UsageError('--tls-cert and --tls-key go together: pass both for mutual TLS');
  }
  return {
    command: 'chat',
    server: str(v.server)!,
    user: str(v.user),
    passwordFile: str(v['password-file']),
    plain: Boolean(v.plain),
    tls: Boolean(v.tls) || Boolean(v.ca) || Boolean(v['tls-cert']),
    ca: str(v.ca),
    tlsCert: str(v['tls-cert']),
    tlsKey: str(v['tls-key']),
    connectTimeoutMs: num(v['connect-timeout']) * 1000,
    seconds: Boolean(v.seconds),
  };
}

function readUser(args: string[], env: NodeJS.ProcessEnv): Config {
  const { values: v, positionals, help } = readOptions('user', USER_OPTIONS, args, env);
  if (help || positionals.length === 0) return { command: 'help', text: USER_HELP };
  const [action, name, ...extra] = positionals;
  if (action !== 'add' && action !== 'del' && action !== 'passwd' && action !== 'list') {
    throw new UsageError(`unknown action "${action}" — use add, del, passwd or list (tinychat user --help)`);
  }
  if (action !== 'list' && !name) throw new UsageError(`tinychat user ${action} needs a NAME`);
  if (extra.length > 0 || (action === 'list' && name)) {
    throw new UsageError(`unexpected argument "${extra[0] ?? name}" — run \`tinychat user --help\``);
  }
  return { command: 'user', action, name, db: str(v.db)!, bus: str(v.bus), passwordFile: str(v['password-file']) };
}

function readBackup(command: 'backup' | 'restore', args: string[], env: NodeJS.ProcessEnv): Config {
  const { values: v, positionals, help } = readOptions(command, BACKUP_OPTIONS, args, env);
  if (help || positionals.length === 0) return { command: 'help', text: command === 'backup' ? BACKUP_HELP : RESTORE_HELP };
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}" — run \`tinychat ${command} --help\``);
  const db = str(v.db)!;
  if (isPostgresUrl(db)) {
    throw new UsageError(`tinychat ${command} works on SQLite files; for PostgreSQL use pg_dump and pg_restore (see the README's Backups section)`);
  }
  return { command, db, file: positionals[0] };
}

/** Splits "HOST:PORT" ("[::1]:9464" for IPv6), saying which flag is wrong when it cannot. */
export function parseHostPort(flag: string, text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d+)$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new UsageError(`${flag} must be HOST:PORT, e.g. 127.0.0.1:9464, not "${text}"`);
  }
  return { host: match[1] ?? match[2], port };
}
