import { parseArgs } from 'node:util';
import type { TargetName } from './server-child';

/** The parts of a benchmark run. */
export type Part = 'throughput' | 'rate' | 'idle';

/** Everything a benchmark run can be told; every default can be overridden by a flag. */
export interface BenchOptions {
  only: Part[];
  targets: TargetName[];
  /** Pair counts for the throughput part. */
  pairs: number[];
  /** Messages each pair sends in the throughput part. */
  messages: number;
  warmupMessages: number;
  bytes: number;
  window: number;
  rate: number;
  ratePairs: number;
  rateSeconds: number;
  rateWarmupSeconds: number;
  idleUsers: number;
  idleConcurrency: number;
  idleSettleSeconds: number;
  idleWatchPresence: boolean;
  workers: number;
  timeoutSeconds: number;
  /** Write a CPU profile of every TinyChat server started (and print its summary). */
  profile: boolean;
  profileBare: boolean;
  outDir: string;
}

/** The --help text. */
export const USAGE = `usage: npm run bench -- [options]

Runs TinyChat (tinychat serve on a SQLite file) and a bare gRPC relay side by
side under the same load and prints a table; results also go to results/.

  --only PARTS              throughput,rate,idle (default: all three)
  --targets NAMES           tinychat,bare (default: both)
  --pairs LIST              sender→receiver pair counts for throughput (default 1,10,100)
  --messages N              messages per pair in throughput runs (default 5000)
  --warmup-messages N       unmeasured messages per pair before each throughput run (default 500)
  --bytes N                 message body size in bytes (default 100)
  --window N                sends a sender may have without a receipt (default 64)
  --rate N                  messages per second in the fixed-rate run (default 5000)
  --rate-pairs N            pairs sharing that rate (default 10)
  --rate-seconds N          measured seconds of the fixed-rate run (default 10)
  --rate-warmup-seconds N   unmeasured seconds before it (default 3)
  --idle-users N            users holding an idle stream, one connection each (default 10000)
  --idle-concurrency N      logins in flight per load worker during the idle run (default 100)
  --idle-settle-seconds N   wait before reading the server's memory (default 3)
  --idle-watch-presence     idle users ask for presence changes, as the interactive client does
  --workers N               load generator processes (default 2)
  --timeout-seconds N       give up on one run after this long (default 300)
  --profile                 write a CPU profile of each TinyChat server and summarise it
  --profile-bare            also profile the bare relay
  --out DIR                 where results go (default results)
  -h, --help                show this help
`;

/** Reads the command line; throws an Error saying what is wrong with it. */
export function readOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      only: { type: 'string' },
      targets: { type: 'string' },
      pairs: { type: 'string' },
      messages: { type: 'string' },
      'warmup-messages': { type: 'string' },
      bytes: { type: 'string' },
      window: { type: 'string' },
      rate: { type: 'string' },
      'rate-pairs': { type: 'string' },
      'rate-seconds': { type: 'string' },
      'rate-warmup-seconds': { type: 'string' },
      'idle-users': { type: 'string' },
      'idle-concurrency': { type: 'string' },
      'idle-settle-seconds': { type: 'string' },
      'idle-watch-presence': { type: 'boolean' },
      workers: { type: 'string' },
      'timeout-seconds': { type: 'string' },
      profile: { type: 'boolean' },
      'profile-bare': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const int = (name: keyof typeof values, fallback: number, min: number, max: number): number => {
    const text = values[name] as string | undefined;
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, not "${text}"`);
    return value;
  };
  const list = <T extends string>(name: 'only' | 'targets', allowed: readonly T[]): T[] => {
    const text = values[name] as string | undefined;
    if (text === undefined) return [...allowed];
    const items = text.split(',').map((s) => s.trim()) as T[];
    for (const item of items) if (!allowed.includes(item)) throw new Error(`--${name} takes ${allowed.join(',')}, not "${item}"`);
    return items;
  };
  const pairs = (values.pairs ?? '1,10,100').split(',').map((s) => Number(s.trim()));
  for (const p of pairs) if (!Number.isInteger(p) || p < 1 || p > 5000) throw new Error(`--pairs takes whole numbers from 1 to 5000, not "${values.pairs}"`);
  const bytes = int('bytes', 100, 16, 4096);
  return {
    only: list('only', ['throughput', 'rate', 'idle'] as const),
    targets: list('targets', ['tinychat', 'bare'] as const),
    pairs,
    messages: int('messages', 5000, 1, 10_000_000),
    warmupMessages: int('warmup-messages', 500, 0, 10_000_000),
    bytes,
    window: int('window', 64, 1, 100_000),
    rate: int('rate', 5000, 1, 1_000_000),
    ratePairs: int('rate-pairs', 10, 1, 5000),
    rateSeconds: int('rate-seconds', 10, 1, 3600),
    rateWarmupSeconds: int('rate-warmup-seconds', 3, 0, 3600),
    idleUsers: int('idle-users', 10_000, 1, 200_000),
    idleConcurrency: int('idle-concurrency', 100, 1, 10_000),
    idleSettleSeconds: int('idle-settle-seconds', 3, 0, 600),
    idleWatchPresence: Boolean(values['idle-watch-presence']),
    workers: int('workers', 2, 1, 64),
    timeoutSeconds: int('timeout-seconds', 300, 1, 24 * 3600),
    profile: Boolean(values.profile),
    profileBare: Boolean(values['profile-bare']),
    outDir: values.out ?? 'results',
  };
}
