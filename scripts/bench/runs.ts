import { join } from 'node:path';
import type { LoadPool } from './load-pool';
import type { IdleJob, PairSpec, PairsJob } from './load-protocol';
import type { BenchOptions } from './options';
import { machineBusySeconds } from './proc-stats';
import { startServerChild, type ServerChild, type TargetName } from './server-child';
import { concat, summarize, type LatencySummary } from './stats';

/** One server under one pairs load (as fast as the window allows, or at a fixed rate). */
export interface PairsRun {
  target: TargetName;
  pairs: number;
  /** Messages expected to be delivered. */
  messages: number;
  delivered: number;
  seconds: number;
  messagesPerSecond: number;
  latencyMs: LatencySummary;
  serverCpuSeconds: number;
  serverCpuMicrosPerMessage: number;
  /** Server CPU time per second of the run: 1.0 is one core busy. */
  serverCores: number;
  serverPeakRssBytes: number;
  loadCpuSeconds: number;
  loadCores: number;
  /**
   * Busy cores on the machine besides the server and the load workers
   * (kernel networking, the benchmark's own process, anything else running).
   */
  otherCores: number;
  /** For fixed-rate runs: the rate asked for, in messages per second. */
  targetRate?: number;
  /** Lost, repeated, reordered or refused messages; empty when all is well. */
  errors: string[];
  cpuProfile?: string;
}

/** One server holding idle users. */
export interface IdleRun {
  target: TargetName;
  users: number;
  connected: number;
  connectSeconds: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssPerUserBytes: number;
  serverPeakRssBytes: number;
  serverOpenFds: number;
  serverCpuSecondsToConnect: number;
  loadCpuSeconds: number;
  errors: string[];
  cpuProfile?: string;
}

/** Splits items round-robin over `workers` lists, dropping the empty ones. */
function spread<T>(items: T[], workers: number): T[][] {
  const lists: T[][] = Array.from({ length: workers }, () => []);
  items.forEach((item, i) => lists[i % workers].push(item));
  return lists.filter((list) => list.length > 0);
}

function profilePath(options: BenchOptions, target: TargetName, label: string, stamp: string): string | undefined {
  const wanted = target === 'tinychat' ? options.profile : options.profileBare;
  return wanted ? join(options.outDir, `profile-${stamp}`, `${target}-${label}.cpuprofile`) : undefined;
}

async function withServer<T>(target: TargetName, cpuProfilePath: string | undefined, work: (server: ServerChild) => Promise<T>): Promise<T> {
  const server = await startServerChild(target, { cpuProfilePath });
  try {
    return await work(server);
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- end of the ${target} server's log ---\n${server.logTail()}`);
  } finally {
    await server.stop();
  }
}

/**
 * Runs `pairs` pairs against a fresh server: as fast as the window allows
 * (throughput), or at `options.rate` messages per second (fixed rate).
 */
export async function runPairs(
  pool: LoadPool,
  target: TargetName,
  options: BenchOptions,
  shape: { pairs: number; fixedRate: boolean; stamp: string },
): Promise<PairsRun> {
  const label = shape.fixedRate ? `rate-${options.rate}` : `pairs-${shape.pairs}`;
  const cpuProfile = profilePath(options, target, label, shape.stamp);
  return withServer(target, cpuProfile, async (server) => {
    const specs: PairSpec[] = Array.from({ length: shape.pairs }, (_, i) => ({ sender: `sender${i}`, receiver: `receiver${i}` }));
    const timeoutMs = options.timeoutSeconds * 1000;
    const rate = shape.fixedRate
      ? { perPairPerSecond: options.rate / shape.pairs, warmupMs: options.rateWarmupSeconds * 1000, durationMs: options.rateSeconds * 1000 }
      : undefined;
    const jobs: PairsJob[] = spread(specs, pool.size).map((pairs) => ({
      kind: 'pairs',
      target: server.target,
      pairs,
      messages: options.messages,
      warmupMessages: options.warmupMessages,
      bytes: options.bytes,
      // At a fixed rate the window only guards against a server that cannot keep up.
      window: rate ? Math.max(options.window, 10_000) : options.window,
      rate,
      timeoutMs,
    }));
    await pool.setup(jobs);
    const cpuBefore = server.cpuSeconds();
    const machineBefore = machineBusySeconds();
    const started = process.hrtime.bigint();
    const replies = await pool.go(jobs);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const serverCpuSeconds = server.cpuSeconds() - cpuBefore;
    const machineSeconds = machineBusySeconds() - machineBefore;
    const { peakRss } = server.memory();
    const closeErrors = await pool.close(jobs);

    const results = replies.map((r) => r.pairs);
    const delivered = results.reduce((n, r) => n + r.delivered, 0);
    const perPair = rate ? Math.ceil((rate.perPairPerSecond * (rate.warmupMs + rate.durationMs)) / 1000) : options.messages;
    const loadCpuSeconds = results.reduce((n, r) => n + r.cpuSeconds, 0);
    return {
      target,
      pairs: shape.pairs,
      messages: perPair * shape.pairs,
      delivered,
      seconds,
      messagesPerSecond: delivered / seconds,
      latencyMs: summarize(concat(results.map((r) => r.latenciesMs))),
      serverCpuSeconds,
      serverCpuMicrosPerMessage: (serverCpuSeconds * 1e6) / Math.max(1, delivered),
      serverCores: serverCpuSeconds / seconds,
      serverPeakRssBytes: peakRss,
      loadCpuSeconds,
      loadCores: loadCpuSeconds / seconds,
      otherCores: Math.max(0, machineSeconds - serverCpuSeconds - loadCpuSeconds) / seconds,
      targetRate: rate ? options.rate : undefined,
      errors: [...results.flatMap((r) => r.errors), ...closeErrors],
      cpuProfile,
    };
  });
}

/** Connects `options.idleUsers` users to a fresh server, each holding a stream, and weighs the server. */
export async function runIdle(pool: LoadPool, target: TargetName, options: BenchOptions, stamp: string): Promise<IdleRun> {
  const cpuProfile = profilePath(options, target, `idle-${options.idleUsers}`, stamp);
  return withServer(target, cpuProfile, async (server) => {
    // Let the fresh process finish starting before weighing it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssBeforeBytes = server.memory().rss;
    const users = Array.from({ length: options.idleUsers }, (_, i) => `idle${i}`);
    const jobs: IdleJob[] = spread(users, pool.size).map((list) => ({
      kind: 'idle',
      target: server.target,
      users: list,
      concurrency: options.idleConcurrency,
      watchPresence: options.idleWatchPresence,
      timeoutMs: options.timeoutSeconds * 1000,
    }));
    const cpuBefore = server.cpuSeconds();
    const started = process.hrtime.bigint();
    const replies = await pool.setup(jobs);
    const connectSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const serverCpuSecondsToConnect = server.cpuSeconds() - cpuBefore;
    await new Promise((resolve) => setTimeout(resolve, options.idleSettleSeconds * 1000));
    const { rss: rssAfterBytes, peakRss } = server.memory();
    const serverOpenFds = server.openFds();
    const closeErrors = await pool.close(jobs);
    const idle = replies.map((r) => r.idle!);
    const connected = idle.reduce((n, r) => n + r.connected, 0);
    return {
      target,
      users: options.idleUsers,
      connected,
      connectSeconds,
      rssBeforeBytes,
      rssAfterBytes,
      rssPerUserBytes: (rssAfterBytes - rssBeforeBytes) / Math.max(1, connected),
      serverPeakRssBytes: peakRss,
      serverOpenFds,
      serverCpuSecondsToConnect,
      loadCpuSeconds: idle.reduce((n, r) => n + r.cpuSeconds, 0),
      errors: [...idle.flatMap((r) => r.errors), ...closeErrors],
      cpuProfile,
    };
  });
}
