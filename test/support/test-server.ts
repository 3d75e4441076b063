import { dirname, join } from 'node:path';
import { openDirectoryBlobStore } from '../../src/files/directory-blob-store';
import { silentLogger, lineLogger } from '../../src/log';
import { startServer, type RunningServer, type ServerOptions } from '../../src/rpc/server';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { makeTempDir } from './temp-dir';

/** A real TinyChat server on 127.0.0.1 with a real SQLite file, in this process. */
export interface TestServer {
  port: number;
  /** "127.0.0.1:PORT" */
  target: string;
  dbPath: string;
  server: RunningServer;
  /** Graceful shutdown (streams end with UNAVAILABLE, the store is closed). */
  stop(): Promise<void>;
  /**
   * Caps the database at `pages` pages (never below its current size) and
   * returns the cap in effect: a small cap makes the store fail with a real
   * SQLITE_FULL, a larger one makes room again.
   */
  setMaxPageCount(pages: number): number;
}

/**
 * Abuse limits off, for tests that put one machine's load on the server on
 * behalf of many users (fault and load tests); the limits have tests of their own.
 */
export const NO_ABUSE_LIMITS = {
  sendRate: { perSecond: 0, burst: 1 },
  maxStreamsPerUser: 0,
  maxConnectionsPerAddress: 0,
};

/** The same for a `tinychat serve` process. */
export const NO_ABUSE_LIMIT_FLAGS = ['--send-rate', '0', '--max-streams-per-user', '0', '--max-connections-per-address', '0'];

// Many tests import the temporary directories from here, next to the server that uses them.
export { makeTempDir, removeTempDirs } from './temp-dir';

/**
 * Starts a server on an ephemeral port (or `port`, to restart on the same
 * address) with a SQLite file (a new one unless `dbPath` is given), capped
 * at `maxPageCount` pages when that is given.
 * Set TINYCHAT_TEST_LOG=1 to see its log.
 */
export async function startTestServer(
  options: { dbPath?: string; host?: string; port?: number; queueLimit?: number; maxPageCount?: number } & Partial<
    Omit<ServerOptions, 'host' | 'port' | 'store' | 'logger'>
  > = {},
): Promise<TestServer> {
  const dbPath = options.dbPath ?? join(makeTempDir(), 'chat.db');
  const store = openSqliteStore(dbPath, { maxPageCount: options.maxPageCount });
  const logger = process.env.TINYCHAT_TEST_LOG ? lineLogger() : silentLogger;
  const { dbPath: _dbPath, host, port, maxPageCount: _maxPageCount, ...rest } = options;
  // A cheap password hash keeps the many logins of the suite fast; the
  // hashing itself is the same code.
  // File contents next to the database, as `tinychat serve` keeps them.
  const blobs = rest.blobs ?? (await openDirectoryBlobStore(join(dirname(dbPath), 'files')));
  const server = await startServer({ passwordCost: 10, ...rest, blobs, host: host ?? '127.0.0.1', port: port ?? 0, store, logger }).catch(
    async (err: unknown) => {
      await store.close();
      throw err;
    },
  );
  return {
    port: server.port,
    target: server.target,
    dbPath,
    server,
    stop: () => server.shutdown(),
    setMaxPageCount: (pages) => store.setMaxPageCount(pages),
  };
}
