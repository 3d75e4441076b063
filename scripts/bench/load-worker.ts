import { performance } from 'node:perf_hooks';
import type { FixedRate, FromWorker, IdleJob, IdleResult, Job, PairsJob, PairsResult, PairsSample, ToWorker } from './load-protocol';
import { PairDriver, type PairPlan } from './pair-driver';
import { concat } from './stats';
import { UserChannel } from './user-channel';
import type { ServerFrame } from '../../src/gen/tinychat/v1/chat';

/**
 * A load worker: a child process of the benchmark that simulates some of the
 * users. It sets up a job, waits for 'go' (pairs) so that every worker starts
 * together, reports what it measured, and tears down on 'close'.
 */

const ACK_INTERVAL_MS = 100;
/** Logins and stream openings in flight at once while setting up pairs. */
const SETUP_CONCURRENCY = 64;
const MAX_ERRORS = 20;

let job: Job | undefined;
let drivers: PairDriver[] = [];
let idleUsers: UserChannel[] = [];
let plan: PairPlan | undefined;
let acker: NodeJS.Timeout | undefined;
/** Per driver, what the previous sample took: latencies measured and messages delivered. */
let sampledUpTo: Array<{ measured: number; delivered: number }> = [];

function reply(message: FromWorker): void {
  process.send!(message);
}

/** Runs `work` on every item with at most `limit` in flight. */
async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

async function setupPairs(pairsJob: PairsJob): Promise<void> {
  const warmup = pairsJob.rate ? 0 : pairsJob.warmupMessages;
  const total = pairsJob.rate
    ? Math.ceil((pairsJob.rate.perPairPerSecond * (pairsJob.rate.warmupMs + pairsJob.rate.durationMs)) / 1000)
    : warmup + pairsJob.messages;
  plan = { total, bytes: pairsJob.bytes, window: pairsJob.window, measureFromIndex: warmup, measureFrom: 0 };
  const shared = plan;
  drivers = pairsJob.pairs.map((spec) => new PairDriver(spec, pairsJob.target, pairsJob.receiverTarget, shared));
  await forEachLimited(drivers, SETUP_CONCURRENCY, (driver) => driver.open(pairsJob.timeoutMs));
  acker = setInterval(() => {
    for (const driver of drivers) {
      driver.ack();
      driver.checkStreams();
    }
  }, ACK_INTERVAL_MS);
  if (warmup > 0) {
    const timedOut = await drive(warmup, undefined, pairsJob.timeoutMs);
    const errors = drivers.flatMap((d) => d.errors);
    if (timedOut || errors.length > 0) throw new Error(`warm-up failed: ${timedOut ? 'timed out; ' : ''}${errors.slice(0, 3).join('; ')}`);
  }
  reply({ type: 'ready' });
}

/**
 * Sends until every pair has `goal` messages receipted and delivered (or
 * failed); resolves true when the time ran out first. Without a rate each
 * sender keeps its window full; with one, a 1 ms tick sends what is due by
 * now: at 500 msg/s per pair that is one message per pair per tick, so the
 * rate is smooth rather than bursty.
 */
function drive(goal: number, rate: FixedRate | undefined, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let ticker: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearInterval(ticker);
      clearInterval(checker);
      clearTimeout(deadline);
      resolve(timedOut);
    };
    const checkDone = () => {
      if (drivers.every((d) => d.finished)) settle(false);
    };
    // A pair that fails stops sending; this notices when the last one is done for either reason.
    const checker = setInterval(checkDone, ACK_INTERVAL_MS);
    const deadline = setTimeout(() => settle(true), timeoutMs);
    for (const driver of drivers) {
      driver.goal = goal;
      driver.onProgress = rate
        ? () => {
            if (driver.finished) checkDone();
          }
        : () => {
            driver.sendUpTo(goal);
            if (driver.finished) checkDone();
          };
    }
    if (rate) {
      const start = performance.now();
      const tick = () => {
        const due = Math.floor(((performance.now() - start) * rate.perPairPerSecond) / 1000) + 1;
        for (const driver of drivers) driver.sendUpTo(due);
      };
      ticker = setInterval(tick, 1);
      tick();
    } else {
      for (const driver of drivers) driver.sendUpTo(goal);
    }
    checkDone();
  });
}

async function runPairs(pairsJob: PairsJob): Promise<void> {
  const shared = plan!;
  const warmup = shared.measureFromIndex;
  const cpuStart = process.cpuUsage();
  if (pairsJob.rate) shared.measureFrom = performance.now() + pairsJob.rate.warmupMs;
  sampledUpTo = drivers.map((d) => ({ measured: d.measuredCount, delivered: d.delivered }));
  const timedOut = await drive(shared.total, pairsJob.rate, pairsJob.timeoutMs);
  const cpuSeconds = cpuSecondsSince(cpuStart);
  for (const driver of drivers) driver.ack();
  const result: PairsResult = {
    sent: 0,
    receipted: 0,
    delivered: 0,
    latenciesMs: concat(drivers.map((d) => d.latenciesMs())),
    receiptLatenciesMs: concat(drivers.map((d) => d.receiptLatenciesMs())),
    errors: drivers.flatMap((d) => d.errors).slice(0, MAX_ERRORS),
    timedOut,
    cpuSeconds,
  };
  for (const driver of drivers) {
    result.sent += driver.sent - warmup;
    result.receipted += driver.receipted - warmup;
    result.delivered += driver.delivered - warmup;
  }
  if (timedOut) result.errors.push(`timed out after ${pairsJob.timeoutMs} ms`);
  reply({ type: 'done', pairs: result });
}

/** What the running pairs delivered since the previous sample (or since 'go'). */
function sample(): void {
  const parts: Float64Array[] = [];
  let delivered = 0;
  drivers.forEach((driver, i) => {
    const last = sampledUpTo[i] ?? { measured: 0, delivered: 0 };
    parts.push(driver.latenciesMs(last.measured));
    delivered += driver.delivered - last.delivered;
    sampledUpTo[i] = { measured: driver.measuredCount, delivered: driver.delivered };
  });
  const result: PairsSample = { delivered, latenciesMs: concat(parts), errors: drivers.flatMap((d) => d.errors).slice(0, MAX_ERRORS) };
  reply({ type: 'sample', sample: result });
}

async function setupIdle(idleJob: IdleJob): Promise<void> {
  const cpuStart = process.cpuUsage();
  const errors: string[] = [];
  let connected = 0;
  const deadline = Date.now() + idleJob.timeoutMs;
  idleUsers = idleJob.users.map((name) => new UserChannel(name, idleJob.target));
  const watching = new Map(idleUsers.map((user, i) => [user, idleJob.watchUsers?.[i] ?? []]));
  // A refused watch (an unknown name, too many) would measure less than was asked for.
  const onFrame = (user: UserChannel) => (frame: ServerFrame) => {
    for (const error of frame.errors) if (errors.length < MAX_ERRORS) errors.push(`${user.name}: frame error ${error.code}: ${error.message}`);
  };
  await forEachLimited(idleUsers, idleJob.concurrency, async (user) => {
    const left = deadline - Date.now();
    if (left <= 0) {
      if (errors.length < MAX_ERRORS) errors.push(`${user.name}: not started: the idle run's time was up`);
      return;
    }
    try {
      await user.open({ everyone: idleJob.watchPresence, users: watching.get(user)! }, onFrame(user), left);
      connected++;
    } catch (err) {
      if (errors.length < MAX_ERRORS) errors.push(err instanceof Error ? err.message : String(err));
    }
  });
  const result: IdleResult = { connected, errors, cpuSeconds: cpuSecondsSince(cpuStart) };
  reply({ type: 'ready', idle: result });
}

async function close(): Promise<void> {
  const errors: string[] = [];
  const endedEarly = idleUsers.filter((u) => u.ended);
  if (endedEarly.length > 0) {
    errors.push(`${endedEarly.length} idle streams ended while held, e.g. ${endedEarly[0].name}: ${endedEarly[0].ended?.code} ${endedEarly[0].ended?.details}`);
  }
  clearInterval(acker);
  acker = undefined;
  for (const user of idleUsers) user.drop();
  await forEachLimited(drivers, SETUP_CONCURRENCY, (driver) => driver.close());
  drivers = [];
  sampledUpTo = [];
  idleUsers = [];
  job = undefined;
  reply({ type: 'closed', errors });
}

process.on('message', (message: ToWorker) => {
  const handle = async () => {
    switch (message.type) {
      case 'setup':
        job = message.job;
        if (job.kind === 'pairs') await setupPairs(job);
        else await setupIdle(job);
        break;
      case 'go':
        if (job?.kind === 'pairs') await runPairs(job);
        break;
      case 'sample':
        sample();
        break;
      case 'close':
        await close();
        break;
      case 'exit':
        process.exit(0);
    }
  };
  handle().catch((err: unknown) => reply({ type: 'failed', error: err instanceof Error ? err.message : String(err) }));
});

// The benchmark going away takes its workers with it.
process.on('disconnect', () => process.exit(0));
