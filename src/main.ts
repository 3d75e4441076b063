#!/usr/bin/env node
import { readConfig, UsageError, type ChatConfig, type ServeConfig } from './config';
import { lineLogger } from './log';
import { startServer } from './rpc/server';
import { openSqliteStore } from './store/sqlite-store';
import { runPlainClient } from './client/plain-client';

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
  }
}

async function serve(config: ServeConfig): Promise<number> {
  const logger = lineLogger();
  const store = openSqliteStore(config.db, { backgroundCheckpoints: true });
  logger.info('store-open', { backend: 'sqlite', path: config.db });
  const server = await startServer({ host: config.host, port: config.port, store, logger, queueLimit: config.queueLimit }).catch(
    async (err: unknown) => {
      await store.close();
      throw err;
    },
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info('signal', { signal });
      server.shutdown().then(resolve, (err: unknown) => {
        logger.error('shutdown-failed', { error: String(err) });
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

async function chat(config: ChatConfig): Promise<number> {
  // A person at a terminal gets the full-screen client; pipes, scripts and
  // terminals that cannot move the cursor (TERM=dumb) get the line client.
  if (!config.plain && process.stdin.isTTY && process.stdout.isTTY && process.env.TERM !== 'dumb') {
    // Loaded here so that the server and the line client never load the screen library.
    const { runTui } = await import('./client/tui/run-tui');
    return runTui({ server: config.server, user: config.user, input: process.stdin, output: process.stdout, errors: process.stderr, handleProcessEvents: true });
  }
  if (!config.user) {
    throw new UsageError('say who you are with --user NAME (or TINYCHAT_USER=NAME)');
  }
  return runPlainClient({
    server: config.server,
    user: config.user,
    input: process.stdin,
    output: process.stdout,
    errors: process.stderr,
  });
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
