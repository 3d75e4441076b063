#!/usr/bin/env node
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPostgresUrl, parseHostPort, readConfig, UsageError, type BackupConfig, type ChatConfig, type ServeConfig, type UserConfig } from './config';
import { connectBus } from './bus/connect-bus';
import { announceSessionEnds } from './cluster/cluster-link';
import { UserAdmin } from './admin/user-admin';
import { runPlainClient } from './client/plain-client';
import { promptHidden, readPassword } from './client/password';
import { createLogger, silentLogger, type Logger } from './log';
import { backupSqlite, restoreSqlite } from './ops/backup';
import { listenForMetrics } from './ops/metrics-endpoint';
import type { MetricsEndpoint } from './ops/metrics';
import { ensurePortFree } from './ops/port-probe';
import { startServer } from './rpc/server';
import { openPostgresStore, PostgresStore } from './store/postgres-store';
import { checkSqliteLocation, explainSqliteFailure } from './store/sqlite-location';
import { openSqliteStore } from './store/sqlite-store';
import type { Store } from './store/store';
import { openDirectoryBlobStore } from './files/directory-blob-store';
import { PostgresBlobStore } from './files/postgres-blob-store';
import type { BlobStore } from './files/blob-store';

/**
 * The one place that picks the storage backend: a postgres:// URL is a
 * PostgreSQL database that several nodes may share; anything else is an
 * SQLite file (or :memory:) of this process.
 */
async function openStore(db: string, logger: Logger, server: boolean): Promise<{ store: Store; backend: string; where: string }> {
  if (isPostgresUrl(db)) {
    const store = await openPostgresStore(db, { logger, applicationName: server ? 'tinychat' : 'tinychat-admin' });
    return { store, backend: 'postgres', where: store.description };
  }
  try {
    checkSqliteLocation(db);
    return { store: openSqliteStore(db, { backgroundCheckpoints: server }), backend: 'sqlite', where: db };
  } catch (err) {
    throw explainSqliteFailure(db, err);
  }
}

/**
 * Where file contents live: in PostgreSQL beside the messages when the store
 * is there (every node reads them), else in a directory next to the SQLite
 * file (--files-dir), or a fresh temporary one for :memory:, which goes when
 * the server stops, as the messages naming its files do (`temporary`).
 */
async function openBlobs(store: Store, db: string, filesDir: string | undefined): Promise<{ blobs: BlobStore; temporary?: string }> {
  if (store instanceof PostgresStore) return { blobs: new PostgresBlobStore(store.pool) };
  const temporary = filesDir === undefined && db === ':memory:' ? mkdtempSync(join(tmpdir(), 'tinychat-files-')) : undefined;
  const dir = filesDir ?? temporary ?? `${db.replace(/\.db$/, '')}-files`;
  try {
    return { blobs: await openDirectoryBlobStore(dir), temporary };
  } catch (err) {
    if (temporary) rmSync(temporary, { recursive: true, force: true });
    throw new UsageError(`cannot use ${dir} for files: ${(err as NodeJS.ErrnoException).code ?? String(err)} — check the folder, or pick another with --files-dir`);
  }
}

/**
 * The composition root: reads the configuration, picks the store, starts the
 * server or a client. The store backend is chosen here and nowhere else.
 */
async function main(): Promise<number> {
  const config = readConfig(process.argv.slice(2), process.env);
  switch (config.command) {
    case 'help':
      process.stdout.write(config.text);
      return 0;
    case 'serve':
      return serve(config);
    case 'chat':
      return chat(config);
    case 'user':
      return user(config);
    case 'backup':
      return backup(config);
    case 'restore':
      return restore(config);
  }
}

/** Reads a PEM file named by a flag, saying which flag when it cannot. */
function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)} — check the path`);
  }
}

async function serve(config: ServeConfig): Promise<number> {
  const logger = createLogger(config.logFormat, config.logLevel);
  // Heard from the first line on: a supervisor that stops the server while it
  // is still starting gets a clean stop once it has started, not a kill (a
  // second signal still kills: each listener is used once).
  const signalled = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info('signal', { signal });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  const tls =
    config.tlsCert && config.tlsKey
      ? {
          cert: readPem('--tls-cert', config.tlsCert),
          key: readPem('--tls-key', config.tlsKey),
          clientCa: config.tlsClientCa ? readPem('--tls-client-ca', config.tlsClientCa) : undefined,
        }
      : undefined;
  // Both ports are known to be free before the database is touched, so a
  // second server started by mistake fails in one line and changes nothing.
  await ensurePortFree(config.host, config.port, '--port');
  // What start-up has opened so far, undone in reverse when a later step fails.
  const opened: Array<() => unknown> = [];
  const undoStart = async (err: unknown): Promise<never> => {
    for (const undo of opened.reverse()) await undo();
    throw err;
  };
  let metrics: MetricsEndpoint | undefined;
  if (config.metricsAddress) {
    const { host, port } = parseHostPort('--metrics-address', config.metricsAddress);
    const endpoint = await listenForMetrics(host, port);
    opened.push(() => endpoint.close());
    metrics = endpoint;
  }
  const { store, backend, where } = await openStore(config.db, logger, true).catch(undoStart);
  opened.push(() => store.close());
  logger.info('store-open', { backend, at: where });
  const bus = await connectBus(config.bus).catch(undoStart);
  opened.push(() => bus.close());
  // The first write: on SQLite it finds a lock held by another process.
  const expired = await store
    .deleteExpiredSessions(Date.now())
    .catch((err: unknown) => undoStart(backend === 'sqlite' ? explainSqliteFailure(config.db, err) : err));
  if (expired > 0) logger.info('sessions-expired', { count: expired });
  const { blobs, temporary } = await openBlobs(store, config.db, config.filesDir).catch(undoStart);
  const removeTemporaryFiles = () => temporary && rmSync(temporary, { recursive: true, force: true });
  opened.push(removeTemporaryFiles);
  const server = await startServer({
    bus: config.bus ? bus : undefined,
    nodeName: config.nodeName,
    host: config.host,
    port: config.port,
    store,
    logger,
    queueLimit: config.queueLimit,
    registration: config.registration,
    sessionTtlMs: config.sessionTtlMs,
    passwordCost: config.passwordCost,
    limits: config.limits,
    tls,
    metrics,
    retentionDays: config.retentionDays,
    blobs,
    fileLimits: config.fileLimits,
  }).catch(undoStart);
  await signalled;
  await server.shutdown().catch((err: unknown) => logger.error('shutdown-failed', { error: String(err) }));
  removeTemporaryFiles();
  return 0;
}

async function chat(config: ChatConfig): Promise<number> {
  quietIpServerNameWarning();
  const tls = config.tls
    ? {
        ca: config.ca ? readPem('--ca', config.ca) : undefined,
        cert: config.tlsCert ? readPem('--tls-cert', config.tlsCert) : undefined,
        key: config.tlsKey ? readPem('--tls-key', config.tlsKey) : undefined,
      }
    : undefined;
  // A person at a terminal gets the full-screen client; pipes, scripts and
  // terminals that cannot move the cursor (TERM=dumb) get the line client.
  if (!config.plain && process.stdin.isTTY && process.stdout.isTTY && process.env.TERM !== 'dumb') {
    // Without --password-file or TINYCHAT_PASSWORD, the login form asks.
    const password = config.passwordFile || process.env.TINYCHAT_PASSWORD ? await readPassword({ file: config.passwordFile, env: process.env, prompt: '' }) : undefined;
    // Loaded here so that the server and the line client never load the screen library.
    const { runTui } = await import('./client/tui/run-tui');
    const { defaultConfigDir } = await import('./client/saved-sessions');
    return runTui({
      server: config.server,
      user: config.user,
      password,
      tls,
      input: process.stdin,
      output: process.stdout,
      errors: process.stderr,
      handleProcessEvents: true,
      connectTimeoutMs: config.connectTimeoutMs,
      seconds: config.seconds,
      configDir: defaultConfigDir(),
    });
  }
  if (!config.user) {
    throw new UsageError('say who you are with --user NAME (or TINYCHAT_USER=NAME)');
  }
  const terminal = process.stdin.isTTY ? { input: process.stdin, output: process.stderr } : undefined;
  const password = await readPassword({ file: config.passwordFile, env: process.env, terminal, prompt: `password for ${config.user}: ` });
  // A password typed at the prompt is asked again before it registers a new name.
  const typed = terminal && !config.passwordFile && !process.env.TINYCHAT_PASSWORD;
  return runPlainClient({
    confirmPassword: typed ? () => promptHidden('the same password again: ', terminal.input, terminal.output) : undefined,
    server: config.server,
    user: config.user,
    password,
    tls,
    input: process.stdin,
    output: process.stdout,
    errors: process.stderr,
    connectTimeoutMs: config.connectTimeoutMs,
  });
}

/**
 * grpc-js names the TLS server after the target host even when it is an IP
 * address, and Node warns about that (DEP0123) on every connection. The
 * certificate is still checked against the address, so the warning tells a
 * person nothing; drop that one warning and keep every other.
 */
function quietIpServerNameWarning(): void {
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const [, typeOrOptions, code] = args;
    const warningCode = typeof typeOrOptions === 'object' && typeOrOptions !== null ? (typeOrOptions as { code?: string }).code : code;
    if (warningCode === 'DEP0123') return;
    emitWarning(...args);
  }) as typeof process.emitWarning;
}

async function user(config: UserConfig): Promise<number> {
  const { store } = await openStore(config.db, silentLogger, false);
  try {
    const admin = new UserAdmin(store);
    const askPassword = () =>
      readPassword({
        file: config.passwordFile,
        env: process.env,
        terminal: process.stdin.isTTY ? { input: process.stdin, output: process.stderr } : undefined,
        prompt: `new password for ${config.name}: `,
      });
    let line: string;
    switch (config.action) {
      case 'add':
        line = await admin.add(config.name!, await askPassword());
        break;
      case 'passwd':
        line = await admin.passwd(config.name!, await askPassword());
        break;
      case 'del':
        line = await admin.del(config.name!);
        break;
      case 'list':
        line = await admin.list();
        break;
    }
    if (config.bus && (config.action === 'passwd' || config.action === 'del')) await announceSessionEnds(config.bus);
    process.stdout.write(`${line}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function backup(config: BackupConfig): Promise<number> {
  const pages = await backupSqlite(config.db, config.file);
  process.stdout.write(`backed up ${config.db} to ${config.file} (${pages} pages); bring it back with: tinychat restore --db ${config.db} ${config.file}\n`);
  return 0;
}

async function restore(config: BackupConfig): Promise<number> {
  const pages = await restoreSqlite(config.file, config.db);
  process.stdout.write(`restored ${config.db} from ${config.file} (${pages} pages); start the server again\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tinychat: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
