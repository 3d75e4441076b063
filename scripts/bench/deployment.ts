import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { readHeapUsed } from './heap-used';
import { cpuSeconds, memory, openFds } from './proc-stats';
import { startServerChild, type ServerChild } from './server-child';

/**
 * What the benchmark measures: TinyChat on SQLite (as it runs by default),
 * the baseline relay, one TinyChat node on PostgreSQL, and two nodes on
 * PostgreSQL + NATS with every sender on the first and every receiver on the
 * second. Each run gets a fresh deployment: new processes, and for the
 * PostgreSQL ones a database of its own, dropped afterwards.
 */
export type TargetName = 'tinychat' | 'bare' | 'postgres' | 'cluster' | 'unstored';

/** Every target, in the order the table shows them. */
export const ALL_TARGETS: readonly TargetName[] = ['tinychat', 'unstored', 'bare', 'postgres', 'cluster'];

/**
 * What runs when --targets is not given. 'unstored' is asked for by name:
 * it is TinyChat with its database in memory (':memory:', nothing durable),
 * which no one should run, but measured beside the real thing it shows what
 * writing every message to disk costs, and what is left without it.
 */
export const DEFAULT_TARGETS: readonly TargetName[] = ['tinychat', 'bare', 'postgres', 'cluster'];

/** Human names for the table. */
export const TARGET_LABELS: Record<TargetName, string> = {
  tinychat: 'TinyChat (SQLite)',
  bare: 'bare relay',
  postgres: 'TinyChat, PostgreSQL',
  cluster: '2 nodes, PostgreSQL + NATS',
  unstored: 'TinyChat, database in memory',
};

/** Where PostgreSQL and NATS are, and how servers are started. */
export interface DeploymentOptions {
  postgresUrl: string;
  natsUrl: string;
  serverPrefix: string[];
  cpuProfilePath?: string;
  dropEvery?: number;
  /** TinyChat nodes serve their metrics, so that their V8 heap can be read. */
  metrics?: boolean;
}

/** One or two running server processes and the engines behind them. */
export interface Deployment {
  target: TargetName;
  /** Where senders connect. */
  senderTarget: string;
  /** Where receivers connect (another node for the cluster). */
  receiverTarget: string;
  nodes: ServerChild[];
  /** CPU of every node, in seconds. */
  cpuSeconds(): number;
  /** Starts counting the CPU of PostgreSQL's backends for this database and of NATS. */
  startEngineMeter(): Promise<() => Promise<number>>;
  memory(): { rss: number; peakRss: number };
  /** V8 heap in use of every node serving its metrics; undefined when none does (the relay, or metrics off). */
  heapUsed(): Promise<number | undefined>;
  openFds(): number;
  logTail(): string;
  stop(): Promise<void>;
}

let databases = 0;

async function admin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `the PostgreSQL targets need PostgreSQL at ${url} (--postgres or TINYCHAT_BENCH_POSTGRES_URL): ${(err as Error).message}; ` +
        'start it, or leave those targets out with --targets tinychat,bare',
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function natsPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'nats-server') pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function cpuOrZero(pid: number): number {
  try {
    return cpuSeconds(pid);
  } catch {
    return 0;
  }
}

/**
 * A meter over the processes `pids()` returns at the start and at the end:
 * CPU used between the two, counting whole any process that appeared since.
 */
async function meter(pids: () => Promise<number[]>): Promise<() => Promise<number>> {
  const before = new Map<number, number>();
  for (const pid of await pids()) before.set(pid, cpuOrZero(pid));
  return async () => {
    let total = 0;
    for (const pid of new Set([...before.keys(), ...(await pids())])) total += Math.max(0, cpuOrZero(pid) - (before.get(pid) ?? 0));
    return total;
  };
}

/** Starts a fresh deployment of `target`. */
export async function startDeployment(target: TargetName, options: DeploymentOptions): Promise<Deployment> {
  const base = { prefix: options.serverPrefix, cpuProfilePath: options.cpuProfilePath, metrics: options.metrics };
  let nodes: ServerChild[] = [];
  let database: string | undefined;
  const dropDatabase = async () => {
    if (database) {
      const name = database;
      database = undefined;
      await admin(options.postgresUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
    }
  };
  try {
    if (target === 'tinychat') nodes = [await startServerChild('tinychat', base)];
    else if (target === 'unstored') nodes = [await startServerChild('tinychat', { ...base, db: ':memory:' })];
    else if (target === 'bare') nodes = [await startServerChild('bare', { ...base, dropEvery: options.dropEvery })];
    else {
      const name = `tinychat_bench_${process.pid}_${++databases}`;
      await admin(options.postgresUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
      database = name;
      const url = new URL(options.postgresUrl);
      url.pathname = `/${name}`;
      if (target === 'postgres') nodes = [await startServerChild('tinychat', { ...base, db: url.toString(), nodeName: 'pg1' })];
      else {
        const bus = `${options.natsUrl.replace(/\/+$/, '')}/${name}`;
        // One after the other: the first creates the schema.
        const first = await startServerChild('tinychat', { ...base, db: url.toString(), bus, nodeName: 'senders' });
        nodes = [first];
        const secondProfile = options.cpuProfilePath?.replace(/\.cpuprofile$/, '-receivers.cpuprofile');
        nodes.push(await startServerChild('tinychat', { ...base, cpuProfilePath: secondProfile, db: url.toString(), bus, nodeName: 'receivers' }));
      }
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    await dropDatabase().catch(() => undefined);
    throw err;
  }
  const dbName = database;
  const enginePids = async (): Promise<number[]> => {
    if (!dbName) return [];
    const rows = await admin(options.postgresUrl, (c) => c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [dbName]));
    return [...rows.rows.map((r) => r.pid), ...(target === 'cluster' ? natsPids() : [])];
  };
  return {
    target,
    senderTarget: nodes[0].target,
    receiverTarget: nodes[nodes.length - 1].target,
    nodes,
    cpuSeconds: () => nodes.reduce((n, node) => n + cpuSeconds(node.pid), 0),
    startEngineMeter: () => meter(enginePids),
    memory: () =>
      nodes.map((n) => memory(n.pid)).reduce((a, b) => ({ rss: a.rss + b.rss, peakRss: a.peakRss + b.peakRss }), { rss: 0, peakRss: 0 }),
    heapUsed: async () => {
      const urls = nodes.flatMap((n) => (n.metricsUrl ? [n.metricsUrl] : []));
      if (urls.length === 0) return undefined;
      return (await Promise.all(urls.map(readHeapUsed))).reduce((a, b) => a + b, 0);
    },
    openFds: () => nodes.reduce((n, node) => n + openFds(node.pid), 0),
    logTail: () => nodes.map((n) => n.logTail()).join('\n--- next node ---\n'),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await dropDatabase();
    },
  };
}
