import pg from 'pg';
import { connectBus } from '../../src/bus/connect-bus';
import type { Bus } from '../../src/bus/bus';
import type { ClusterTimings } from '../../src/cluster/cluster-link';
import { lineLogger, silentLogger } from '../../src/log';
import { startServer, type RunningServer, type ServerOptions } from '../../src/rpc/server';
import { PostgresBlobStore } from '../../src/files/postgres-blob-store';
import { openPostgresStore } from '../../src/store/postgres-store';

/** The PostgreSQL the tests use (CI starts it: .ci/run). */
export const POSTGRES_URL = process.env.TINYCHAT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The NATS the tests use (CI starts it: .ci/run). */
export const NATS_URL = process.env.TINYCHAT_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** Short cluster timings, so that tests of a silent node take seconds. */
export const FAST_CLUSTER: ClusterTimings = { heartbeatMs: 300, silentAfterMs: 1500, sweepMs: 300 };

let counter = 0;

/** A name no other test (or test process) uses: for databases and bus namespaces. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${++counter}`;
}

/** Runs `work` on an admin connection of its own to the test PostgreSQL. */
export async function postgresAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`the cluster tests need PostgreSQL at ${POSTGRES_URL} (TINYCHAT_TEST_POSTGRES_URL): ${(err as Error).message}`);
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database for one test, and how to drop it. */
export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Creates a database of its own on the test PostgreSQL. */
export async function freshDatabase(): Promise<TestDatabase> {
  const name = uniqueName('tc_cluster');
  await postgresAdmin((client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`));
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => postgresAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`)).then(() => undefined),
  };
}

/** The test NATS with a namespace of its own in the URL's path. */
export function busUrl(namespace: string, base = NATS_URL): string {
  return `${base.replace(/\/+$/, '')}/${namespace}`;
}

/** A server node in this process: a PostgreSQL store and a bus of its own. */
export interface TestNode {
  name: string;
  target: string;
  server: RunningServer;
  bus: Bus;
  stop(): Promise<void>;
}

/**
 * Starts a node on `databaseUrl` joined through `bus` (a NATS URL, or a bus
 * to use as is), on an ephemeral loopback port, with fast cluster timings.
 */
export async function startNode(
  name: string,
  databaseUrl: string,
  bus: string | Bus,
  options: Partial<Omit<ServerOptions, 'host' | 'port' | 'store' | 'logger' | 'bus' | 'nodeName'>> = {},
): Promise<TestNode> {
  const logger = process.env.TINYCHAT_TEST_LOG ? lineLogger() : silentLogger;
  const store = await openPostgresStore(databaseUrl, { logger, maxConnections: 4 });
  const nodeBus = typeof bus === 'string' ? await connectBus(bus) : bus;
  const server = await startServer({
    passwordCost: 10,
    clusterTimings: FAST_CLUSTER,
    // File contents in the shared database, as `tinychat serve` keeps them with PostgreSQL.
    blobs: new PostgresBlobStore(store.pool),
    ...options,
    host: '127.0.0.1',
    port: 0,
    store,
    logger,
    bus: nodeBus,
    nodeName: name,
  });
  return { name, target: server.target, server, bus: nodeBus, stop: () => server.shutdown() };
}

/** Two nodes, "node-a" and "node-b", sharing a fresh database and a bus namespace of their own. */
export interface TwoNodes {
  database: TestDatabase;
  nodes: [TestNode, TestNode];
  /** Stops both nodes, then drops the database. */
  stop(): Promise<void>;
}

/** Starts two nodes with the same `options` on a fresh database and bus namespace. */
export async function startTwoNodes(options: Parameters<typeof startNode>[3] = {}): Promise<TwoNodes> {
  const database = await freshDatabase();
  const bus = busUrl(uniqueName('tinychat-test'));
  const nodes: [TestNode, TestNode] = [await startNode('node-a', database.url, bus, options), await startNode('node-b', database.url, bus, options)];
  return {
    database,
    nodes,
    async stop() {
      for (const node of nodes) await node.stop();
      await database.drop();
    },
  };
}
