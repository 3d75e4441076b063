import { median, type BenchResults } from './report';
import type { PairsRun, Run } from './runs';

/**
 * The cost curve: at each fixed rate, TinyChat's server CPU per message and
 * p99 delivery latency beside the relay's, with their ratios, as one compact
 * markdown table. It reads the rate runs of a benchmark (those of the
 * tinychat and bare targets) and needs nothing else.
 */

/** Medians over a target's clean runs at one rate, and the median of its per-repetition ratios to the relay. */
interface Point {
  tinychat: number;
  bare: number;
  ratio: number;
}

function clean(runs: Run[], scenario: string, target: 'tinychat' | 'bare'): PairsRun[] {
  return runs.filter((r): r is PairsRun => r.kind === 'pairs' && r.scenario === scenario && r.target === target && r.errors.length === 0);
}

function point(runs: Run[], scenario: string, value: (run: PairsRun) => number): Point {
  const mine = clean(runs, scenario, 'tinychat');
  const bare = clean(runs, scenario, 'bare');
  const ratios = mine.flatMap((run) => {
    const base = bare.find((b) => b.repetition === run.repetition);
    return base && value(base) !== 0 ? [value(run) / value(base)] : [];
  });
  return { tinychat: median(mine.map(value)), bare: median(bare.map(value)), ratio: median(ratios) };
}

function number(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '-';
}

function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '-';
}

/**
 * The curve as a markdown table, one row per fixed rate; undefined when no
 * rate ran against both TinyChat (SQLite) and the relay.
 */
export function costCurveTable(results: BenchResults): string | undefined {
  const rates = results.scenarios.filter((s) => s.kind === 'pairs' && s.rate !== undefined && s.targets.includes('tinychat') && s.targets.includes('bare'));
  if (rates.length === 0) return undefined;
  const lines = [
    '| msg/s | TinyChat CPU µs/msg | relay CPU µs/msg | ratio | TinyChat p99 ms | relay p99 ms | ratio | delivered msg/s, TinyChat / relay |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const scenario of [...rates].sort((a, b) => a.rate! - b.rate!)) {
    const cpu = point(results.runs, scenario.id, (r) => r.serverCpuMicrosPerMessage);
    const p99 = point(results.runs, scenario.id, (r) => r.latencyMs.p99);
    const rate = point(results.runs, scenario.id, (r) => r.messagesPerSecond);
    lines.push(
      `| ${number(scenario.rate!, 0)} | ${number(cpu.tinychat, 1)} | ${number(cpu.bare, 1)} | ${ratio(cpu.ratio)} | ` +
        `${number(p99.tinychat, 2)} | ${number(p99.bare, 2)} | ${ratio(p99.ratio)} | ${number(rate.tinychat, 0)} / ${number(rate.bare, 0)} |`,
    );
  }
  return lines.join('\n');
}

/** What each column means, under the table. */
const LEGEND =
  'Each figure is the median over the repetitions of runs that delivered every message exactly once and in order; ' +
  'a ratio is the median of TinyChat ÷ relay within the same repetition. CPU is the server process, from /proc, ' +
  'over the measured seconds and their warm-up; p99 is the end-to-end delivery latency (send written → message read by the receiver).';

/**
 * The curve as a markdown document of its own (for docs/cost-curve.md):
 * where and how it was measured, the command that regenerates it, the table
 * and whether the machine was quiet.
 */
export function costCurveDocument(results: BenchResults, command: string): string | undefined {
  const table = costCurveTable(results);
  if (table === undefined) return undefined;
  const m = results.machine;
  const o = results.options;
  const runs = results.runs.filter((r) => r.kind === 'pairs' && (r.target === 'tinychat' || r.target === 'bare'));
  const noisy = runs.filter((r) => !r.quiet).length;
  const broken = runs.filter((r) => r.errors.length > 0).length;
  return [
    '# Cost curve: TinyChat against the bare relay',
    '',
    `Measured on ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC, commit \`${m.commit}\`, with \`${command}\`, ` +
      `on ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}; load average at the start ${m.loadAverage.map((l) => l.toFixed(2)).join(' ')}. ` +
      `${results.pinning.charAt(0).toUpperCase()}${results.pinning.slice(1)}. ${o.ratePairs} sender→receiver pairs share each rate, ${o.bytes}-byte messages, ` +
      `${o.rateSeconds} s measured after ${o.rateWarmupSeconds} s of warm-up, ${o.repetitions} repetition(s), targets alternating run by run.`,
    '',
    table,
    '',
    LEGEND,
    '',
    `Runs: ${runs.length}; ${broken === 0 ? 'every message was delivered exactly once and in order in all of them' : `${broken} with delivery problems (left out of the figures)`}; ` +
      `${noisy === 0 ? 'all quiet' : `${noisy} noisy (other processes used more than ${o.quietCores} of a core)`}. ` +
      'Absolute figures are this machine\'s; the ratios are what travel. The full table and the raw runs are in results/.',
    '',
  ].join('\n');
}
