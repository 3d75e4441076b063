/**
 * What `npm run soak` records, interval by interval, and how it reads it:
 * a table of the samples and a verdict that compares the first interval
 * with the last.
 */

/** One interval of a soak. */
export interface SoakSample {
  /** 1, 2, … */
  index: number;
  /** Seconds since the load started, at the end of the interval. */
  endSeconds: number;
  /** The server's RSS at the end of the interval. */
  rssBytes: number;
  /** Of which anonymous memory (heaps: V8's and malloc's). */
  rssAnonBytes: number;
  /** V8 heap in use (TinyChat's nodejs_heap_size_used_bytes); absent for the relay or without metrics. */
  heapUsedBytes?: number;
  delivered: number;
  deliveredPerSecond: number;
  /** Server CPU over the interval per message delivered in it. */
  cpuMicrosPerMessage: number;
  /** Delivery latency of the messages delivered in the interval (send written → read by the receiver). */
  p50Ms: number;
  p99Ms: number;
  /** Cores other processes kept busy during the interval (see the benchmark's quiet check). */
  otherCores: number;
}

/** A whole soak, as written to results/. */
export interface SoakResults {
  startedAt: string;
  finishedAt: string;
  commit: string;
  target: string;
  /** The server's command line options that matter here: the metrics endpoint on or off. */
  metrics: boolean;
  pinning: string;
  rate: number;
  pairs: number;
  bytes: number;
  minutes: number;
  intervalSeconds: number;
  /** Messages the rate and duration call for. */
  expected: number;
  delivered: number;
  /** Lost, repeated, reordered or refused messages; empty when all is well. */
  errors: string[];
  samples: SoakSample[];
}

/** RSS may grow this much (share of the first interval's) between the first and last intervals and still be flat. */
export const RSS_TOLERANCE = 0.1;
/** p99 in the last interval may be this many times the first's and still be steady. */
export const P99_TOLERANCE = 2;

const MiB = 2 ** 20;

function fixed(value: number | undefined, digits: number): string {
  return value !== undefined && Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-';
}

function signed(value: number, digits: number): string {
  return `${value >= 0 ? '+' : ''}${fixed(value, digits)}`;
}

/** The samples as a markdown table. */
export function samplesTable(samples: SoakSample[]): string {
  const rows = samples.map(
    (s) =>
      `| ${s.index} | ${fixed(s.endSeconds, 0)} | ${fixed(s.rssBytes / MiB, 1)} | ${fixed(s.rssAnonBytes / MiB, 1)} | ${fixed(s.heapUsedBytes === undefined ? undefined : s.heapUsedBytes / MiB, 1)} | ` +
      `${fixed(s.cpuMicrosPerMessage, 1)} | ${fixed(s.p50Ms, 2)} | ${fixed(s.p99Ms, 2)} | ${fixed(s.delivered, 0)} | ${fixed(s.deliveredPerSecond, 0)} | ${fixed(s.otherCores, 2)} |`,
  );
  return [
    '| # | end, s | RSS MiB | anonymous MiB | V8 heap used MiB | server CPU µs/msg | p50 ms | p99 ms | delivered | msg/s | other cores |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

/** What the first and last intervals say, one line per figure, and whether memory and p99 stayed flat. */
export function verdict(results: SoakResults): { lines: string[]; flat: boolean } {
  const { samples } = results;
  const lines: string[] = [];
  const deliveredOk = results.errors.length === 0 && results.delivered === results.expected;
  lines.push(
    deliveredOk
      ? `Delivery: all ${fixed(results.expected, 0)} messages exactly once and in order.`
      : `Delivery: PROBLEMS: ${fixed(results.delivered, 0)} of ${fixed(results.expected, 0)} delivered${results.errors.length > 0 ? `; ${results.errors.join('; ')}` : ''}.`,
  );
  if (samples.length < 2) {
    lines.push('Only one interval: nothing to compare (make --interval-seconds shorter than the run).');
    return { lines, flat: false };
  }
  const first = samples[0];
  const last = samples[samples.length - 1];
  const rssGrowth = (last.rssBytes - first.rssBytes) / first.rssBytes;
  const rssFlat = rssGrowth <= RSS_TOLERANCE;
  lines.push(
    `RSS: ${fixed(first.rssBytes / MiB, 1)} MiB after the first interval, ${fixed(last.rssBytes / MiB, 1)} MiB after the last ` +
      `(${signed((last.rssBytes - first.rssBytes) / MiB, 1)} MiB, ${signed(rssGrowth * 100, 1)}%): ` +
      (rssFlat ? `flat (grew at most ${RSS_TOLERANCE * 100}%).` : `GREW by more than ${RSS_TOLERANCE * 100}%.`) +
      ` Anonymous (heaps): ${signed((last.rssAnonBytes - first.rssAnonBytes) / MiB, 1)} MiB.`,
  );
  if (first.heapUsedBytes !== undefined && last.heapUsedBytes !== undefined) {
    lines.push(
      `V8 heap used: ${fixed(first.heapUsedBytes / MiB, 1)} MiB, then ${fixed(last.heapUsedBytes / MiB, 1)} MiB ` +
        `(${signed((last.heapUsedBytes - first.heapUsedBytes) / MiB, 1)} MiB; it rises and falls with garbage collection, so read its trend in the table).`,
    );
  }
  const p99Ratio = last.p99Ms / first.p99Ms;
  const p99Steady = Number.isFinite(p99Ratio) && p99Ratio <= P99_TOLERANCE;
  lines.push(
    `p99: ${fixed(first.p99Ms, 2)} ms in the first interval, ${fixed(last.p99Ms, 2)} ms in the last (${fixed(p99Ratio, 2)}×): ` +
      (p99Steady ? `steady (at most ${P99_TOLERANCE}×).` : `ROSE past ${P99_TOLERANCE}× the first.`),
  );
  const flat = rssFlat && p99Steady;
  lines.push(
    flat
      ? 'Verdict: flat: memory and p99 at the end are where they were at the start, no sign of a leak.'
      : 'Verdict: NOT flat: see above. A short run (the first interval still warming up) or a busy machine (the "other cores" column) can also cross these lines; repeat before looking for a leak.',
  );
  return { lines, flat };
}

/** The whole soak report in markdown. */
export function formatSoak(results: SoakResults): string {
  return [
    `Soak of ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC, commit ${results.commit}: ${results.target}` +
      `${results.metrics ? ', serving its metrics (the heap figures come from there)' : ''}; ` +
      `${fixed(results.rate, 0)} msg/s over ${results.pairs} pairs, ${results.bytes}-byte messages, ${results.minutes} minutes, ` +
      `sampled every ${results.intervalSeconds} s; ${results.pinning}.`,
    '',
    samplesTable(results.samples),
    '',
    ...verdict(results).lines,
  ].join('\n');
}
