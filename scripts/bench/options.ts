import { parseArgs } from 'node:util';
import { ALL_TARGETS, DEFAULT_TARGETS, type TargetName } from './deployment';

/** The parts of a benchmark run. */
export type Part = 'throughput' | 'rate' | 'idle' | 'memory';

/** Everything a benchmark run can be told; every default can be overridden by a flag. */
export interface BenchOptions {
  only: Part[];
  targets: TargetName[];
  /** Every run of every scenario this many times, targets interleaved. */
  repetitions: number;
  /** Pair counts for the saturation scenarios. */
  pairs: number[];
  /** Messages each pair sends in the saturation scenarios. */
  messages: number;
  warmupMessages: number;
  bytes: number;
  window: number;
  /** Rates of the fixed-rate scenarios, in messages per second. */
  rates: number[];
  ratePairs: number;
  rateSeconds: number;
  rateWarmupSeconds: number;
  idleUsers: number;
  idleConcurrency: number;
  idleSettleSeconds: number;
  /** Also measure users watching everyone's presence (the old, expensive mode). */
  idleWatchPresence: boolean;
  /** Pairs at saturation beside the idle users in the memory part. */
  memoryPairs: number;
  /** Wait after everyone disconnected before reading the server's memory again. */
  memorySettleSeconds: number;
  /** In the memory part TinyChat serves its metrics, and its V8 heap in use is read beside its RSS. */
  memoryHeap: boolean;
  /** Also write the cost curve (the fixed rates, TinyChat against the relay) to this markdown file. */
  curveOut?: string;
  /** Users in the presence comparison: logged in watching `watchPeers` others each, and not watching. */
  watchUsers: number;
  watchPeers: number;
  workers: number;
  timeoutSeconds: number;
  /** A run during which the rest of the machine used more than this many cores is repeated. */
  quietCores: number;
  /** How many times a noisy run is repeated before it is kept and reported as noisy. */
  retries: number;
  pin: boolean;
  postgresUrl: string;
  natsUrl: string;
  /** Write a CPU profile of every TinyChat server started (and print its summary). */
  profile: boolean;
  profileBare: boolean;
  /** The bare relay loses every Nth message: shows that the delivery check notices. */
  bareDropEvery: number;
  fast: boolean;
  outDir: string;
}

/** The --help text. */
export const USAGE = `usage: npm run bench -- [options]

Runs TinyChat (tinychat serve on a SQLite file), a bare gRPC relay (the
baseline), one TinyChat node on PostgreSQL and two nodes on PostgreSQL + NATS
under the same load, interleaved run by run, and prints a markdown table of
medians, ranges and ratios to the relay; results also go to results/.

  --fast                    every scenario, tiny and once: checks the tool, measures nothing
  --only PARTS              throughput,rate,idle,memory (default: all four)
  --targets NAMES           ${ALL_TARGETS.join(",")} (default: all but unstored; the last two
                            need PostgreSQL and NATS, and run the fixed rates only; unstored is
                            TinyChat on a database in memory, nothing durable, beside tinychat to
                            show what storage costs: saturation and fixed rates only)
  --repetitions N           runs of each scenario and target (default 3)
  --pairs LIST              sender→receiver pair counts for saturation (default 10,100)
  --messages N              messages per pair in saturation runs (default 5000)
  --warmup-messages N       unmeasured messages per pair before each saturation run (default 500)
  --bytes N                 message body size in bytes (default 100)
  --window N                sends a sender may have without a receipt (default 64)
  --rates LIST              fixed rates, messages per second (default 1000,5000)
  --rate-pairs N            pairs sharing that rate (default 10)
  --rate-seconds N          measured seconds of a fixed-rate run (default 10)
  --rate-warmup-seconds N   unmeasured seconds before it (default 3)
  --idle-users N            users holding an idle stream, one connection each (default 10000)
  --idle-concurrency N      logins in flight during the idle run (default 100)
  --idle-settle-seconds N   wait before reading the server's memory (default 3)
  --memory-pairs N          memory part: the server's RSS fresh, with --idle-users connected, at its
                            peak while N pairs run at saturation beside them (--messages each),
                            and after everyone disconnected (default 10)
  --memory-settle-seconds N wait after the disconnect before reading RSS again (default 10)
  --memory-heap             memory part: TinyChat also serves its metrics and its V8 heap in use is
                            read at each step (tells a leak from pages kept for reuse; the relay
                            has no such figure, and the metrics weigh a little themselves)
  --curve-out FILE          also write the cost curve (server CPU per message and p99 at each of
                            --rates, TinyChat against the relay) as markdown to FILE, e.g.
                            --only rate --rates 100,1000,5000,10000 --targets tinychat,bare
                            --curve-out docs/cost-curve.md
  --watch-users N           users in the presence comparison: the same users logged in watching
                            their peers' presence and not watching, one server each (default 5000)
  --watch-peers N           names each of them watches, as a client showing them does (default 10)
  --idle-watch-presence     also log them in watching everyone (the old, expensive mode), as its own line
  --workers N               load generator processes (default 1, pinned with the load)
  --timeout-seconds N       give up on one run after this long (default 300)
  --quiet-cores X           repeat a run if the rest of the machine used more cores than this (default 0.25)
  --retries N               repeats of a noisy run before keeping it, marked noisy (default 2)
  --no-pin                  do not pin the server and the load to their own cores
  --postgres URL            PostgreSQL for the PostgreSQL targets; a database per run is created
                            and dropped (default $TINYCHAT_BENCH_POSTGRES_URL or
                            postgres://postgres@127.0.0.1:5432/postgres)
  --nats URL                NATS for the two-node target (default $TINYCHAT_BENCH_NATS_URL or
                            nats://127.0.0.1:4222)
  --profile                 write a CPU profile of each TinyChat server and summarise it
  --profile-bare            also profile the bare relay
  --bare-drop-every N       the relay loses every Nth message (to see the delivery check fail)
  --out DIR                 where results go (default results)
  -h, --help                show this help
`;

/** What --fast sets: every scenario, small enough to finish in seconds. */
const FAST: Partial<Record<string, string>> = {
  repetitions: '1',
  pairs: '2,4',
  messages: '40',
  'warmup-messages': '5',
  rates: '100,200',
  'rate-pairs': '2',
  'rate-seconds': '1',
  'rate-warmup-seconds': '0',
  'idle-users': '20',
  'watch-users': '20',
  'idle-settle-seconds': '0',
  'memory-pairs': '2',
  'memory-settle-seconds': '0',
  retries: '0',
  'timeout-seconds': '30',
};

/** Reads the command line; throws an Error saying what is wrong with it. */
export function readOptions(argv: string[]): BenchOptions | 'help' {
  const { values: given } = parseArgs({
    args: argv,
    strict: true,
    options: {
      fast: { type: 'boolean' },
      only: { type: 'string' },
      targets: { type: 'string' },
      repetitions: { type: 'string' },
      pairs: { type: 'string' },
      messages: { type: 'string' },
      'warmup-messages': { type: 'string' },
      bytes: { type: 'string' },
      window: { type: 'string' },
      rates: { type: 'string' },
      'rate-pairs': { type: 'string' },
      'rate-seconds': { type: 'string' },
      'rate-warmup-seconds': { type: 'string' },
      'idle-users': { type: 'string' },
      'idle-concurrency': { type: 'string' },
      'idle-settle-seconds': { type: 'string' },
      'idle-watch-presence': { type: 'boolean' },
      'memory-pairs': { type: 'string' },
      'memory-settle-seconds': { type: 'string' },
      'memory-heap': { type: 'boolean' },
      'curve-out': { type: 'string' },
      'watch-users': { type: 'string' },
      'watch-peers': { type: 'string' },
      workers: { type: 'string' },
      'timeout-seconds': { type: 'string' },
      'quiet-cores': { type: 'string' },
      retries: { type: 'string' },
      'no-pin': { type: 'boolean' },
      postgres: { type: 'string' },
      nats: { type: 'string' },
      profile: { type: 'boolean' },
      'profile-bare': { type: 'boolean' },
      'bare-drop-every': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (given.help) return 'help';
  // --fast fills in what the command line did not say.
  const values: Record<string, string | boolean | undefined> = given.fast ? { ...FAST, ...given } : { ...given };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const text = values[name] as string | undefined;
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, not "${text}"`);
    return value;
  };
  const ints = (name: string, fallback: string, min: number, max: number): number[] => {
    const text = (values[name] as string | undefined) ?? fallback;
    const items = text.split(',').map((s) => Number(s.trim()));
    for (const n of items) if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} takes whole numbers from ${min} to ${max}, not "${text}"`);
    return items;
  };
  const list = <T extends string>(name: 'only' | 'targets', allowed: readonly T[], fallback = allowed): T[] => {
    const text = values[name] as string | undefined;
    if (text === undefined) return [...fallback];
    const items = text.split(',').map((s) => s.trim()) as T[];
    for (const item of items) if (!allowed.includes(item)) throw new Error(`--${name} takes ${allowed.join(',')}, not "${item}"`);
    return items;
  };
  const quietText = (values['quiet-cores'] as string | undefined) ?? '0.25';
  const quietCores = Number(quietText);
  if (!Number.isFinite(quietCores) || quietCores < 0) throw new Error(`--quiet-cores takes a number of cores such as 0.25, not "${quietText}"`);
  const only = list('only', ['throughput', 'rate', 'idle', 'memory'] as const);
  const targets = list('targets', ALL_TARGETS, DEFAULT_TARGETS);
  const curveOut = values['curve-out'] as string | undefined;
  if (curveOut !== undefined && !(only.includes('rate') && targets.includes('tinychat') && targets.includes('bare'))) {
    throw new Error('--curve-out compares TinyChat with the relay at fixed rates: it needs the rate part and the targets tinychat and bare');
  }
  return {
    only,
    targets,
    repetitions: int('repetitions', 3, 1, 100),
    pairs: ints('pairs', '10,100', 1, 5000),
    messages: int('messages', 5000, 1, 10_000_000),
    warmupMessages: int('warmup-messages', 500, 0, 10_000_000),
    bytes: int('bytes', 100, 16, 4096),
    window: int('window', 64, 1, 100_000),
    rates: ints('rates', '1000,5000', 1, 1_000_000),
    ratePairs: int('rate-pairs', 10, 1, 5000),
    rateSeconds: int('rate-seconds', 10, 1, 3600),
    rateWarmupSeconds: int('rate-warmup-seconds', 3, 0, 3600),
    idleUsers: int('idle-users', 10_000, 1, 200_000),
    idleConcurrency: int('idle-concurrency', 100, 1, 10_000),
    idleSettleSeconds: int('idle-settle-seconds', 3, 0, 600),
    idleWatchPresence: Boolean(values['idle-watch-presence']),
    memoryPairs: int('memory-pairs', 10, 1, 5000),
    memorySettleSeconds: int('memory-settle-seconds', 10, 0, 600),
    memoryHeap: Boolean(values['memory-heap']),
    curveOut,
    watchUsers: int('watch-users', 5_000, 2, 200_000),
    watchPeers: int('watch-peers', 10, 1, 1_000),
    workers: int('workers', 1, 1, 64),
    timeoutSeconds: int('timeout-seconds', 300, 1, 24 * 3600),
    quietCores,
    retries: int('retries', 2, 0, 100),
    pin: !values['no-pin'],
    postgresUrl: (values.postgres as string | undefined) ?? process.env.TINYCHAT_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    natsUrl: (values.nats as string | undefined) ?? process.env.TINYCHAT_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222',
    profile: Boolean(values.profile),
    profileBare: Boolean(values['profile-bare']),
    bareDropEvery: int('bare-drop-every', 0, 0, 1_000_000),
    fast: Boolean(values.fast),
    outDir: (values.out as string | undefined) ?? 'results',
  };
}
