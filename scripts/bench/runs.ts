import { join } from 'node:path';
import { startDeployment, type Deployment, type TargetName } from './deployment';
import { LoadPool } from './load-pool';
import type { FixedRate, IdleJob, IdleResult, PairSpec, PairsJob, PairsResult } from './load-protocol';
import type { BenchOptions } from './options';
import type { Pinning } from './pinning';
import { cpuSeconds, machineBusySeconds } from './proc-stats';
import { concat, summarize, type LatencySummary } from './stats';

/** One thing measured: a load shape, run against every target. */
export interface Scenario {
  /** Short and stable, for file names and the JSON: sat-10, rate-5000, idle-10000, memory-10000. */
  id: string;
  kind: 'pairs' | 'idle' | 'memory';
  pairs: number;
  /**
   * Whose presence idle users watch: nobody (absent), `peers` (the names of
   * --watch-peers other users each) or everyone. Such scenarios log their
   * users in once, unmeasured, first, so every watched name exists.
   */
  watch?: IdleWatch;
  /** How many names each user watches, with `peers`. */
  peers?: number;
  /** The scenario this one is compared with (its id), run by run. */
  baseline?: string;
  /** Fixed rate in messages per second; absent for saturation. */
  rate?: number;
  users?: number;
  /** Memory part: TinyChat's V8 heap is read beside its RSS (--memory-heap). */
  heap?: boolean;
  /** The targets this scenario runs against. */
  targets: TargetName[];
}

/** Whose presence idle users watch in a presence-comparison scenario. */
export type IdleWatch = 'none' | 'peers' | 'everyone';

/** What every run records. */
export interface RunBase {
  scenario: string;
  target: TargetName;
  repetition: number;
  /** 1 when the first try was quiet enough; more when noisy runs were repeated. */
  attempts: number;
  seconds: number;
  /**
   * Cores kept busy during the run by everything except the servers, the
   * database and bus backends, the load generator and the benchmark itself
   * (other people's work, and kernel time not charged to any of them).
   */
  otherCores: number;
  /** otherCores stayed at or below --quiet-cores. */
  quiet: boolean;
  /** Lost, repeated, reordered or refused messages, failed logins; empty when all is well. */
  errors: string[];
  cpuProfile?: string;
}

/** One deployment under one pairs load (as fast as the window allows, or at a fixed rate). */
export interface PairsRun extends RunBase {
  kind: 'pairs';
  pairs: number;
  targetRate?: number;
  /** Messages expected to be delivered. */
  messages: number;
  delivered: number;
  messagesPerSecond: number;
  latencyMs: LatencySummary;
  receiptLatencyMs: LatencySummary;
  serverCpuSeconds: number;
  serverCpuMicrosPerMessage: number;
  /** PostgreSQL backends of this run's database, plus NATS for the two-node target. */
  engineCpuMicrosPerMessage: number;
  /** Server CPU time per second of the run: 1.0 is one core busy. */
  serverCores: number;
  serverPeakRssBytes: number;
  loadCores: number;
}

/** One deployment holding idle users. */
export interface IdleRun extends RunBase {
  kind: 'idle';
  users: number;
  connected: number;
  connectSeconds: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssPerUserBytes: number;
  serverPeakRssBytes: number;
  serverOpenFds: number;
  serverCpuSecondsToConnect: number;
}

/**
 * One deployment weighed through a life: fresh, holding idle users, at its
 * peak while pairs run at saturation beside them, and after every user left.
 */
export interface MemoryRun extends RunBase {
  kind: 'memory';
  users: number;
  connected: number;
  pairs: number;
  messages: number;
  delivered: number;
  messagesPerSecond: number;
  /** RSS of the fresh server, before any user. */
  rssStartBytes: number;
  /** RSS with the idle users connected, after --idle-settle-seconds. */
  rssIdleBytes: number;
  /** The highest RSS read (every 100 ms) while the pairs ran. */
  rssPeakBytes: number;
  /** RSS once every idle user and pair disconnected and --memory-settle-seconds passed. */
  rssAfterBytes: number;
  /** (after − start) / (peak − start): the share of the growth still held; 0 when all of it came back. */
  heldFraction: number;
  /** With --memory-heap, TinyChat's V8 heap in use: fresh, with the idle users, as the pairs finish, after the disconnect. */
  heapUsedBytes?: { start: number; idle: number; endOfLoad: number; after: number };
}

export type Run = PairsRun | IdleRun | MemoryRun;

/** What a run needs besides its scenario and target. */
export interface RunContext {
  options: BenchOptions;
  pinning: Pinning;
  stamp: string;
  repetition: number;
}

/** The scenarios `options` asks for, in the order they run within a repetition. */
export function scenarios(options: BenchOptions): Scenario[] {
  const list: Scenario[] = [];
  if (options.only.includes('throughput')) {
    // Saturation compares one server with the relay; a PostgreSQL node's
    // limit is the database's, and its cost is what the fixed rates show.
    const targets = options.targets.filter((t) => t === 'tinychat' || t === 'unstored' || t === 'bare');
    if (targets.length > 0) for (const pairs of options.pairs) list.push({ id: `sat-${pairs}`, kind: 'pairs', pairs, targets });
  }
  if (options.only.includes('rate')) {
    for (const rate of options.rates) list.push({ id: `rate-${rate}`, kind: 'pairs', pairs: options.ratePairs, rate, targets: options.targets });
  }
  if (options.only.includes('idle')) {
    // Idle users weigh one server: the PostgreSQL targets add nothing here.
    const targets = options.targets.filter((t) => t === 'tinychat' || t === 'bare');
    if (targets.length > 0) list.push({ id: `idle-${options.idleUsers}`, kind: 'idle', pairs: 0, users: options.idleUsers, targets });
    // Presence costs only TinyChat anything: the relay has none.
    if (options.targets.includes('tinychat')) {
      const users = options.watchUsers;
      const base = `watch-${users}-none`;
      const modes: IdleWatch[] = options.idleWatchPresence ? ['none', 'peers', 'everyone'] : ['none', 'peers'];
      for (const watch of modes) {
        const id = `watch-${users}-${watch}`;
        const peers = watch === 'peers' ? Math.min(options.watchPeers, users - 1) : undefined;
        list.push({ id, kind: 'idle', pairs: 0, users, watch, peers, baseline: watch === 'none' ? undefined : base, targets: ['tinychat'] });
      }
    }
  }
  if (options.only.includes('memory')) {
    const targets = options.targets.filter((t) => t === 'tinychat' || t === 'bare');
    if (targets.length > 0) list.push({ id: `memory-${options.idleUsers}`, kind: 'memory', pairs: options.memoryPairs, users: options.idleUsers, heap: options.memoryHeap, targets });
  }
  return list;
}

/** What is running now, so that an interrupted benchmark can stop it. */
const running = new Set<{ stop(): Promise<void> }>();

/** Stops the deployment and load of the run in progress, if any (for SIGINT and SIGTERM). */
export async function stopRunning(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop().catch(() => undefined)));
}

/** The `count` users after user `index`, wrapping around: whom a watching user shows. */
function peersOf(users: string[], index: number, count: number): string[] {
  const n = Math.min(count, users.length - 1);
  return Array.from({ length: n }, (_, k) => users[(index + 1 + k) % users.length]);
}

/** Splits items round-robin over `workers` lists, dropping the empty ones. */
function spread<T>(items: T[], workers: number): T[][] {
  const lists: T[][] = Array.from({ length: workers }, () => []);
  items.forEach((item, i) => lists[i % workers].push(item));
  return lists.filter((list) => list.length > 0);
}

/** CPU of everything else, measured around one run. */
class MachineMeter {
  private readonly machine = machineBusySeconds();
  private readonly self = process.cpuUsage();
  private readonly load: Map<number, number>;
  private readonly started = process.hrtime.bigint();

  constructor(private readonly loadPids: number[]) {
    this.load = new Map(loadPids.map((pid) => [pid, cpuSeconds(pid)]));
  }

  /** Seconds since the start, and the load generator's CPU seconds meanwhile. */
  elapsed(): { seconds: number; loadCpuSeconds: number } {
    return {
      seconds: Number(process.hrtime.bigint() - this.started) / 1e9,
      loadCpuSeconds: this.loadPids.reduce((n, pid) => n + cpuSeconds(pid) - this.load.get(pid)!, 0),
    };
  }

  /** Busy cores besides `accounted` CPU seconds, the load and this process, averaged over the run. */
  otherCores(accountedSeconds: number): number {
    const { seconds, loadCpuSeconds } = this.elapsed();
    const self = process.cpuUsage(this.self);
    const selfSeconds = (self.user + self.system) / 1e6;
    const rest = machineBusySeconds() - this.machine - accountedSeconds - loadCpuSeconds - selfSeconds;
    return Math.max(0, rest) / seconds;
  }
}

function profilePath(ctx: RunContext, scenario: Scenario, target: TargetName): string | undefined {
  const wanted = target === 'bare' ? ctx.options.profileBare : ctx.options.profile;
  return wanted ? join(ctx.options.outDir, `profile-${ctx.stamp}`, `${target}-${scenario.id}-${ctx.repetition}.cpuprofile`) : undefined;
}

/**
 * Runs `scenario` once against a fresh deployment of `target` and a fresh
 * load generator, both pinned, and stops both afterwards.
 */
export async function runOnce(scenario: Scenario, target: TargetName, ctx: RunContext): Promise<Run> {
  const { options, pinning } = ctx;
  const cpuProfile = profilePath(ctx, scenario, target);
  const pool = new LoadPool(options.workers);
  const load = { stop: () => pool.exit() };
  running.add(load);
  try {
    for (const pid of pool.pids) pinning.pinLoad(pid);
    const deployment = await startDeployment(target, {
      postgresUrl: options.postgresUrl,
      natsUrl: options.natsUrl,
      serverPrefix: pinning.serverPrefix(),
      cpuProfilePath: cpuProfile,
      dropEvery: options.bareDropEvery,
      metrics: scenario.heap,
    });
    running.add(deployment);
    try {
      const run =
        scenario.kind === 'pairs'
          ? await runPairs(pool, deployment, scenario, ctx)
          : scenario.kind === 'idle'
            ? await runIdle(pool, deployment, scenario, ctx)
            : await runMemory(pool, deployment, scenario, ctx);
      return { ...run, cpuProfile };
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- end of the ${target} server's log ---\n${deployment.logTail()}`);
    } finally {
      running.delete(deployment);
      await deployment.stop();
    }
  } finally {
    running.delete(load);
    await pool.exit();
  }
}

/** The pairs of `scenario` (at saturation, or at its fixed rate), spread over the pool's workers. */
function pairsJobs(pool: LoadPool, deployment: Deployment, scenario: Scenario, options: BenchOptions): PairsJob[] {
  const specs: PairSpec[] = Array.from({ length: scenario.pairs }, (_, i) => ({ sender: `sender${i}`, receiver: `receiver${i}` }));
  const timeoutMs = options.timeoutSeconds * 1000;
  const rate = fixedRate(scenario, options);
  return spread(specs, pool.size).map((pairs) => ({
    kind: 'pairs',
    target: deployment.senderTarget,
    receiverTarget: deployment.receiverTarget,
    pairs,
    messages: options.messages,
    warmupMessages: options.warmupMessages,
    bytes: options.bytes,
    // At a fixed rate the window only guards against a server that cannot keep up.
    window: rate ? Math.max(options.window, 10_000) : options.window,
    rate,
    timeoutMs,
  }));
}

function fixedRate(scenario: Scenario, options: BenchOptions): FixedRate | undefined {
  return scenario.rate
    ? { perPairPerSecond: scenario.rate / scenario.pairs, warmupMs: options.rateWarmupSeconds * 1000, durationMs: options.rateSeconds * 1000 }
    : undefined;
}

/** Messages each pair of `scenario` is to deliver and counts (a fixed rate's warm-up included, a saturation run's not). */
function messagesPerPair(scenario: Scenario, options: BenchOptions): number {
  const rate = fixedRate(scenario, options);
  return rate ? Math.ceil((rate.perPairPerSecond * (rate.warmupMs + rate.durationMs)) / 1000) : options.messages;
}

/** What the pairs of a run delivered, against what they were to deliver, with every error they met. */
function tallyPairs(results: PairsResult[], scenario: Scenario, options: BenchOptions, otherErrors: string[]) {
  const delivered = results.reduce((n, r) => n + r.delivered, 0);
  const messages = messagesPerPair(scenario, options) * scenario.pairs;
  const errors = [...results.flatMap((r) => r.errors), ...otherErrors];
  if (delivered !== messages && errors.length === 0) errors.push(`${delivered} of ${messages} messages delivered`);
  return { delivered, messages, errors };
}

/** What every kind of run records: which run it was, how long it took, and how quiet the machine was. */
function runBase(scenario: Scenario, deployment: Deployment, ctx: RunContext, seconds: number, otherCores: number, errors: string[]): RunBase {
  return {
    scenario: scenario.id,
    target: deployment.target,
    repetition: ctx.repetition,
    attempts: 1,
    seconds,
    otherCores,
    quiet: otherCores <= ctx.options.quietCores,
    errors,
  };
}

/** Idle users connected; a shortfall none of `errors` explains becomes an error of its own. */
function countConnected(idle: IdleResult[], scenario: Scenario, errors: string[]): number {
  const connected = idle.reduce((n, r) => n + r.connected, 0);
  if (connected !== scenario.users && errors.length === 0) errors.push(`${connected} of ${scenario.users} users connected`);
  return connected;
}

async function runPairs(pool: LoadPool, deployment: Deployment, scenario: Scenario, ctx: RunContext): Promise<PairsRun> {
  const { options } = ctx;
  const jobs = pairsJobs(pool, deployment, scenario, options);
  await pool.setup(jobs);
  const engines = await deployment.startEngineMeter();
  const cpuBefore = deployment.cpuSeconds();
  const meter = new MachineMeter(pool.pids);
  const replies = await pool.go(jobs);
  const { seconds, loadCpuSeconds } = meter.elapsed();
  const serverCpuSeconds = deployment.cpuSeconds() - cpuBefore;
  const engineCpuSeconds = await engines();
  const otherCores = meter.otherCores(serverCpuSeconds + engineCpuSeconds);
  const { peakRss } = deployment.memory();
  const closeErrors = await pool.close(jobs);

  const results = replies.map((r) => r.pairs);
  const { delivered, messages, errors } = tallyPairs(results, scenario, options, closeErrors);
  return {
    kind: 'pairs',
    ...runBase(scenario, deployment, ctx, seconds, otherCores, errors),
    pairs: scenario.pairs,
    targetRate: scenario.rate,
    messages,
    delivered,
    messagesPerSecond: delivered / seconds,
    latencyMs: summarize(concat(results.map((r) => r.latenciesMs))),
    receiptLatencyMs: summarize(concat(results.map((r) => r.receiptLatenciesMs))),
    serverCpuSeconds,
    serverCpuMicrosPerMessage: (serverCpuSeconds * 1e6) / Math.max(1, delivered),
    engineCpuMicrosPerMessage: (engineCpuSeconds * 1e6) / Math.max(1, delivered),
    serverCores: serverCpuSeconds / seconds,
    serverPeakRssBytes: peakRss,
    loadCores: loadCpuSeconds / seconds,
  };
}

/** The idle users of `scenario`, spread over the pool's workers, each watching as `watch` says. */
function idleJobs(pool: LoadPool, deployment: Deployment, scenario: Scenario, options: BenchOptions, watch: IdleWatch = 'none'): IdleJob[] {
  const users = Array.from({ length: scenario.users! }, (_, i) => `idle${i}`);
  return spread(
    users.map((name, i) => ({ name, watching: watch === 'peers' ? peersOf(users, i, options.watchPeers) : [] })),
    pool.size,
  ).map((list) => ({
    kind: 'idle',
    target: deployment.senderTarget,
    users: list.map((u) => u.name),
    concurrency: options.idleConcurrency,
    watchPresence: watch === 'everyone',
    watchUsers: list.map((u) => u.watching),
    timeoutMs: options.timeoutSeconds * 1000,
  }));
}

async function runIdle(pool: LoadPool, deployment: Deployment, scenario: Scenario, ctx: RunContext): Promise<IdleRun> {
  const { options } = ctx;
  // Let the fresh process finish starting before weighing it.
  await new Promise((resolve) => setTimeout(resolve, 500));
  if (scenario.watch) {
    // Every user exists before anyone names them (and the baseline pays the same).
    const register = idleJobs(pool, deployment, scenario, options, 'none');
    await pool.setup(register);
    const registerErrors = await pool.close(register);
    if (registerErrors.length > 0) throw new Error(`registering the users failed: ${registerErrors.join('; ')}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const rssBeforeBytes = deployment.memory().rss;
  const jobs = idleJobs(pool, deployment, scenario, options, scenario.watch ?? 'none');
  const cpuBefore = deployment.cpuSeconds();
  const meter = new MachineMeter(pool.pids);
  const replies = await pool.setup(jobs);
  const { seconds: connectSeconds } = meter.elapsed();
  const serverCpuSecondsToConnect = deployment.cpuSeconds() - cpuBefore;
  const otherCores = meter.otherCores(serverCpuSecondsToConnect);
  await new Promise((resolve) => setTimeout(resolve, options.idleSettleSeconds * 1000));
  const { rss: rssAfterBytes, peakRss } = deployment.memory();
  const serverOpenFds = deployment.openFds();
  const closeErrors = await pool.close(jobs);
  const idle = replies.map((r) => r.idle!);
  const errors = [...idle.flatMap((r) => r.errors), ...closeErrors];
  const connected = countConnected(idle, scenario, errors);
  return {
    kind: 'idle',
    ...runBase(scenario, deployment, ctx, connectSeconds, otherCores, errors),
    users: scenario.users!,
    connected,
    connectSeconds,
    rssBeforeBytes,
    rssAfterBytes,
    rssPerUserBytes: (rssAfterBytes - rssBeforeBytes) / Math.max(1, connected),
    serverPeakRssBytes: peakRss,
    serverOpenFds,
    serverCpuSecondsToConnect,
  };
}

/** How often the server's RSS is read while the pairs run, for its peak. */
const RSS_SAMPLE_MS = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Fresh server → idle users logged in → pairs at saturation beside them →
 * everyone gone, reading RSS at each step. The same load processes hold the
 * idle users and drive the pairs; closing them disconnects both.
 */
async function runMemory(pool: LoadPool, deployment: Deployment, scenario: Scenario, ctx: RunContext): Promise<MemoryRun> {
  const { options } = ctx;
  // Let the fresh process finish starting before weighing it.
  await sleep(500);
  const rssStartBytes = deployment.memory().rss;
  const heapStart = await deployment.heapUsed();
  const idle = idleJobs(pool, deployment, scenario, options);
  const idleReplies = await pool.setup(idle);
  await sleep(options.idleSettleSeconds * 1000);
  const rssIdleBytes = deployment.memory().rss;
  const heapIdle = await deployment.heapUsed();

  // The peak counts the pairs' logins and warm-up as well as the measured run.
  let rssPeakBytes = rssIdleBytes;
  const sampler = setInterval(() => {
    rssPeakBytes = Math.max(rssPeakBytes, deployment.memory().rss);
  }, RSS_SAMPLE_MS);
  const pairs = pairsJobs(pool, deployment, scenario, options);
  let replies: Awaited<ReturnType<LoadPool['go']>>;
  let cpuBefore: number;
  let meter: MachineMeter;
  try {
    await pool.setup(pairs);
    cpuBefore = deployment.cpuSeconds();
    meter = new MachineMeter(pool.pids);
    replies = await pool.go(pairs);
  } finally {
    clearInterval(sampler);
  }
  rssPeakBytes = Math.max(rssPeakBytes, deployment.memory().rss);
  const { seconds } = meter.elapsed();
  const otherCores = meter.otherCores(deployment.cpuSeconds() - cpuBefore);
  const heapEndOfLoad = await deployment.heapUsed();

  // Every worker that holds idle users or pairs lets go of all of them.
  const closeErrors = await pool.close(idle.length >= pairs.length ? idle : pairs);
  await sleep(options.memorySettleSeconds * 1000);
  const rssAfterBytes = deployment.memory().rss;
  const heapAfter = await deployment.heapUsed();

  const results = replies.map((r) => r.pairs);
  const idleResults = idleReplies.map((r) => r.idle!);
  const { delivered, messages, errors } = tallyPairs(results, scenario, options, [...idleResults.flatMap((r) => r.errors), ...closeErrors]);
  const connected = countConnected(idleResults, scenario, errors);
  return {
    kind: 'memory',
    ...runBase(scenario, deployment, ctx, seconds, otherCores, errors),
    users: scenario.users!,
    connected,
    pairs: scenario.pairs,
    messages,
    delivered,
    messagesPerSecond: delivered / seconds,
    rssStartBytes,
    rssIdleBytes,
    rssPeakBytes,
    rssAfterBytes,
    heldFraction: (rssAfterBytes - rssStartBytes) / Math.max(1, rssPeakBytes - rssStartBytes),
    heapUsedBytes:
      heapStart !== undefined && heapIdle !== undefined && heapEndOfLoad !== undefined && heapAfter !== undefined
        ? { start: heapStart, idle: heapIdle, endOfLoad: heapEndOfLoad, after: heapAfter }
        : undefined,
  };
}
