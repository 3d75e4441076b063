import { parseArgs } from 'node:util';
import { DEFAULT_QUEUE_LIMIT } from './queue/online-registry';

/** Settings of `tinychat serve`. */
export interface ServeConfig {
  command: 'serve';
  host: string;
  port: number;
  db: string;
  queueLimit: number;
}

/** Settings of `tinychat chat`. */
export interface ChatConfig {
  command: 'chat';
  server: string;
  user: string | undefined;
  plain: boolean;
}

/** What the command line asked for. */
export type Config = ServeConfig | ChatConfig | { command: 'help'; text: string };

/** Thrown for a command line that cannot be run; the message says how to fix it. */
export class UsageError extends Error {}

export const DEFAULT_PORT = 50051;

const SERVE_HELP = `usage: tinychat serve [options]

Runs the TinyChat server.

  --host HOST         address to listen on (TINYCHAT_HOST, default 127.0.0.1)
  --port PORT         port to listen on, 0 for any free one (TINYCHAT_PORT, default ${DEFAULT_PORT})
  --db PATH           SQLite database file, or :memory: (TINYCHAT_DB, default ./tinychat.db)
  --queue-limit N     deliveries a user's stream may fall behind before it is cut off
                      (TINYCHAT_QUEUE_LIMIT, default ${DEFAULT_QUEUE_LIMIT})
  -h, --help          show this help
`;

const CHAT_HELP = `usage: tinychat chat [options]

Starts a chat client.

  --server HOST:PORT  server to connect to (TINYCHAT_SERVER, default 127.0.0.1:${DEFAULT_PORT})
  --user NAME         user name to log in as (TINYCHAT_USER)
  --plain             line-based client: reads lines from stdin, prints messages to stdout
                      (always used when stdin is not a terminal)
  -h, --help          show this help

Type /COMMANDS once connected to see every command.
`;

const MAIN_HELP = `usage: tinychat <command> [options]

Commands:
  serve    run the server            (tinychat serve --help)
  chat     start a chat client       (tinychat chat --help)
`;

/** Reads argv (without node and script) and the TINYCHAT_* environment into one Config. */
export function readConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    return { command: 'help', text: MAIN_HELP };
  }
  if (command === 'serve') return readServe(rest, env);
  if (command === 'chat') return readChat(rest, env);
  throw new UsageError(`unknown command "${command}" — run \`tinychat --help\` to see the commands`);
}

type OptionSpec = Record<string, { type: 'string' | 'boolean' }>;
type OptionValues = Record<string, string | boolean | undefined>;

function parse(args: string[], options: OptionSpec, command: string): { values: OptionValues } {
  try {
    const { values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    return { values: values as OptionValues };
  } catch (err) {
    throw new UsageError(`${(err as Error).message} — run \`tinychat ${command} --help\` to see the options`);
  }
}

function readServe(args: string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parse(
    args,
    { host: { type: 'string' }, port: { type: 'string' }, db: { type: 'string' }, 'queue-limit': { type: 'string' } },
    'serve',
  );
  if (values.help) return { command: 'help', text: SERVE_HELP };
  return {
    command: 'serve',
    host: (values.host as string | undefined) ?? env.TINYCHAT_HOST ?? '127.0.0.1',
    port: integer('port', (values.port as string | undefined) ?? env.TINYCHAT_PORT, DEFAULT_PORT, 0, 65535),
    db: (values.db as string | undefined) ?? env.TINYCHAT_DB ?? './tinychat.db',
    queueLimit: integer('queue-limit', (values['queue-limit'] as string | undefined) ?? env.TINYCHAT_QUEUE_LIMIT, DEFAULT_QUEUE_LIMIT, 16, 1_000_000),
  };
}

function readChat(args: string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parse(args, { server: { type: 'string' }, user: { type: 'string' }, plain: { type: 'boolean' } }, 'chat');
  if (values.help) return { command: 'help', text: CHAT_HELP };
  return {
    command: 'chat',
    server: (values.server as string | undefined) ?? env.TINYCHAT_SERVER ?? `127.0.0.1:${DEFAULT_PORT}`,
    user: (values.user as string | undefined) ?? env.TINYCHAT_USER,
    plain: Boolean(values.plain),
  };
}

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${text}"`);
  }
  return value;
}
