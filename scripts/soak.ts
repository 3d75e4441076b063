import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { currentCommit } from './bench/commit-id';
import { readHeapUsed } from './bench/heap-used';
import { LoadPool } from './bench/load-pool';
import type { PairsJob } from './bench/load-protocol';
import { choosePinning } from './bench/pinning';
import { cpuSeconds, machineBusySeconds, residentParts } from './bench/proc-stats';
import { startServerChild, type ServerChild } from './bench/server-child';
import { formatSoak, type SoakResults, type SoakSample } from './bench/soak-report';
import { summarize } from './bench/stats';

/**
 * `npm run soak`: one fresh server (TinyChat on a SQLite file, or the bare
 * relay) under a steady load for a long time — by default 10 pairs at
 * 1,000 msg/s for 30 minutes — with the benchmark's load generator, which
 * checks that every message arrives exactly once and in order. Every
 * interval it records the server's RSS, its V8 heap (TinyChat, from its
 * metrics endpoint), its CPU per message and the p50/p99 of the messages
 * delivered in that interval; at the end it prints the samples and compares
 * the first interval with the last. Flat means no leak.
 */

const USAGE = `usage: npm run soak -- [options]

One fresh server under a steady load; samples its memory, CPU per message
and latency every interval, checks every delivery, and compares the first
interval with the last. Results also go to results/soak-<time>.md and .json.
Exits 1 if any message was lost, repeated or reordered (the verdict on
memory and p99 is printed, not enforced: a busy machine can move them).

  --minutes X            how long the load runs (default 30; fractions allowed, e.g. 0.2)
  --rate N               messages per second, shared by the pairs (default 1000)
  --pairs N              sender→receiver pairs (default 10)
  --target NAME          tinychat (tinychat serve on a fresh SQLite file) or bare (the relay) (default tinychat)
  --interval-seconds N   one sample per this many seconds (default 60)
  --bytes N              message body size in bytes (default 100)
  --no-metrics           TinyChat without its metrics endpoint (then no heap figures)
  --no-pin               do not pin the server and the load to their own cores
  --out DIR              where results go (default results)
  -h, --help             show this help

For the fault scenarios (crash under load, slow consumer, churn, database
full) run larger and longer, see: npm run soak:faults -- --help
`;

/** The per-message arrays of the load generator grow with the run; past this many messages, split the soak. */
const MAX_MESSAGES = 50_000_000;
/** After the last message is due, time for the last ones to arrive before the run counts as stuck. */
const DRAIN_MS = 120_000;
/** At a fixed rate the window only guards against a server that cannot keep up (as in the benchmark). */
const RATE_WINDOW = 10_000;

interface SoakOptions {
  minutes: number;
  rate: number;
  pairs: number;
  target: 'tinychat' | 'bare';
  intervalSeconds: number;
  bytes: number;
  metrics: boolean;
  pin: boolean;
  outDir: string;
}

function readOptions(argv: string[]): SoakOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      minutes: { type: 'string' },
      rate: { type: 'string' },
      pairs: { type: 'string' },
      target: { type: 'string' },
      'interval-seconds': { type: 'string' },
      bytes: { type: 'string' },
      'no-metrics': { type: 'boolean' },
      'no-pin': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const int = (name: 'rate' | 'pairs' | 'interval-seconds' | 'bytes', fallback: number, min: number, max: number): number => {
    const text = values[name];
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, not "${text}"`);
    return value;
  };
  const minutesText = values.minutes ?? '30';
  const minutes = Number(minutesText);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) throw new Error(`--minutes takes a number of minutes above 0 and at most ${24 * 60}, such as 30 or 0.5, not "${minutesText}"`);
  const target = values.target ?? 'tinychat';
  if (target !== 'tinychat' && target !== 'bare') throw new Error(`--target takes tinychat or bare, not "${target}"`);
  const options: SoakOptions = {
    minutes,
    rate: int('rate', 1000, 1, 1_000_000),
    pairs: int('pairs', 10, 1, 5000),
    target,
    intervalSeconds: int('interval-seconds', 60, 1, 24 * 3600),
    bytes: int('bytes', 100, 16, 4096),
    metrics: !values['no-metrics'],
    pin: !values['no-pin'],
    outDir: values.out ?? 'results',
  };
  if (options.rate * minutes * 60 > MAX_MESSAGES) throw new Error(`${options.rate} msg/s for ${minutes} minutes is more than ${MAX_MESSAGES} messages: lower --rate or --minutes`);
  if (options.intervalSeconds > minutes * 60) throw new Error(`--interval-seconds ${options.intervalSeconds} is longer than the run (${minutes * 60} s): make it shorter`);
  return options;
}

function log(text: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** What the CPU counters read at one moment: the server's, the load's, this process's and the whole machine's. */
function cpuNow(server: ServerChild, loadPid: number): { at: number; server: number; load: number; self: number; machine: number } {
  const self = process.cpuUsage();
  return { at: performance.now(), server: server.cpuSeconds(), load: cpuSeconds(loadPid), self: (self.user + self.system) / 1e6, machine: machineBusySeconds() };
}

async function soak(options: SoakOptions, stopping: Set<() => Promise<void>>): Promise<SoakResults> {
  const pinning = choosePinning(options.pin);
  log(pinning.description);
  pinning.pinLoad(process.pid);
  const startedAt = new Date().toISOString();
  const server = await startServerChild(options.target, { prefix: pinning.serverPrefix(), metrics: options.target === 'tinychat' && options.metrics });
  const pool = new LoadPool(1);
  const stop = async () => {
    await pool.exit();
    await server.stop();
  };
  stopping.add(stop);
  try {
    const loadPid = pool.pids[0];
    pinning.pinLoad(loadPid);
    const durationMs = options.minutes * 60_000;
    const job: PairsJob = {
      kind: 'pairs',
      target: server.target,
      receiverTarget: server.target,
      pairs: Array.from({ length: options.pairs }, (_, i) => ({ sender: `sender${i}`, receiver: `receiver${i}` })),
      messages: 0,
      warmupMessages: 0,
      bytes: options.bytes,
      window: RATE_WINDOW,
      rate: { perPairPerSecond: options.rate / options.pairs, warmupMs: 0, durationMs },
      timeoutMs: durationMs + DRAIN_MS,
    };
    const expected = Math.ceil(((options.rate / options.pairs) * durationMs) / 1000) * options.pairs;
    await pool.setup([job]);
    log(`${options.target} on ${server.target}: ${options.rate} msg/s over ${options.pairs} pairs for ${options.minutes} minutes, a sample every ${options.intervalSeconds} s`);

    const samples: SoakSample[] = [];
    let last = cpuNow(server, loadPid);
    const start = last.at;
    const take = async () => {
      const [reply] = await pool.sample([job]);
      const now = cpuNow(server, loadPid);
      const seconds = (now.at - last.at) / 1000;
      const serverCpu = now.server - last.server;
      const other = now.machine - last.machine - serverCpu - (now.load - last.load) - (now.self - last.self);
      const latency = summarize(reply.sample.latenciesMs);
      const sample: SoakSample = {
        index: samples.length + 1,
        endSeconds: (now.at - start) / 1000,
        rssBytes: server.memory().rss,
        rssAnonBytes: residentParts(server.pid).anon,
        heapUsedBytes: server.metricsUrl ? await readHeapUsed(server.metricsUrl) : undefined,
        delivered: reply.sample.delivered,
        deliveredPerSecond: reply.sample.delivered / seconds,
        cpuMicrosPerMessage: (serverCpu * 1e6) / Math.max(1, reply.sample.delivered),
        p50Ms: latency.p50,
        p99Ms: latency.p99,
        otherCores: Math.max(0, other) / seconds,
      };
      last = now;
      samples.push(sample);
      log(
        `#${sample.index} at ${sample.endSeconds.toFixed(0)} s: RSS ${(sample.rssBytes / 2 ** 20).toFixed(1)} MiB, ` +
          `${sample.delivered} delivered, ${sample.cpuMicrosPerMessage.toFixed(1)} µs/msg, p99 ${sample.p99Ms.toFixed(2)} ms` +
          (reply.sample.errors.length > 0 ? `, PROBLEMS: ${reply.sample.errors[0]}` : ''),
      );
    };

    let finished = false;
    const done = pool.go([job]).finally(() => {
      finished = true;
    });
    // The last interval ends when the last message has arrived, so it takes in the tail.
    const boundaries = Math.max(1, Math.round((options.minutes * 60) / options.intervalSeconds));
    for (let i = 1; i < boundaries && !finished; i++) {
      await Promise.race([sleep(start + i * options.intervalSeconds * 1000 - performance.now()), done]);
      if (!finished) await take();
    }
    const [result] = await done;
    await take();
    const closeErrors = await pool.close([job]);
    return {
      startedAt,
      finishedAt: new Date().toISOString(),
      commit: currentCommit(),
      target: options.target === 'tinychat' ? 'TinyChat (SQLite)' : 'bare relay',
      metrics: server.metricsUrl !== undefined,
      pinning: pinning.description,
      rate: options.rate,
      pairs: options.pairs,
      bytes: options.bytes,
      minutes: options.minutes,
      intervalSeconds: options.intervalSeconds,
      expected,
      delivered: samples.reduce((n, s) => n + s.delivered, 0),
      errors: [...result.pairs.errors, ...closeErrors],
      samples,
    };
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- end of the server's log ---\n${server.logTail()}`);
  } finally {
    stopping.delete(stop);
    await stop();
  }
}

async function main(): Promise<number> {
  let parsed: SoakOptions | 'help';
  try {
    parsed = readOptions(process.argv.slice(2));
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)} — see the options with: npm run soak -- --help`);
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const options = { ...parsed, outDir: resolve(parsed.outDir) };
  const stopping = new Set<() => Promise<void>>();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the soak`);
      void Promise.all([...stopping].map((stop) => stop().catch(() => undefined))).then(() => process.exit(130));
    });
  }
  mkdirSync(options.outDir, { recursive: true });
  const results = await soak(options, stopping);
  const report = formatSoak(results);
  const base = join(options.outDir, `soak-${results.startedAt.replace(/[:.]/g, '-')}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${report}\n`);
  process.stdout.write(`\n${report}\n\nresults written to ${base}.md and ${base}.json\n`);
  return results.errors.length === 0 && results.delivered === results.expected ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
