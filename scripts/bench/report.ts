import { ALL_TARGETS, TARGET_LABELS, type TargetName } from './deployment';
import type { IdleRun, MemoryRun, PairsRun, Run, Scenario } from './runs';

/** Everything one benchmark invocation measured, as written to results/. */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; commit: string; loadAverage: number[] };
  pinning: string;
  options: Record<string, unknown>;
  scenarios: Scenario[];
  runs: Run[];
  /** Runs that failed outright (a server that did not start, a timeout…). */
  failures: string[];
  profiles: unknown[];
}

/** One row of the table: a figure taken from the runs of one scenario. */
interface Measure {
  label: string;
  scenario: Scenario;
  value: (run: Run) => number;
  digits: number;
  /** Only for these targets (default: every target the scenario ran). */
  targets?: TargetName[];
  /** Shown as the ratio to this scenario's run of the same target and repetition, not to the relay. */
  relativeTo?: string;
}

function measures(scenario: Scenario): Measure[] {
  const pairs = (f: (r: PairsRun) => number) => (run: Run) => f(run as PairsRun);
  const idle = (f: (r: IdleRun) => number) => (run: Run) => f(run as IdleRun);
  const memory = (f: (r: MemoryRun) => number) => (run: Run) => f(run as MemoryRun);
  const MiB = 2 ** 20;
  const engines: TargetName[] = ['postgres', 'cluster'];
  if (scenario.kind === 'idle' && scenario.baseline) {
    // Watching peers is what clients do, and has a target; watching everyone shows the old mode's cost.
    const who = scenario.watch === 'everyone' ? 'everyone' : `${scenario.peers} peers each`;
    const target = scenario.watch === 'everyone' ? '' : ' (target ≤ 2×)';
    const ratio = (label: string, f: (r: IdleRun) => number): Measure => ({
      label: `${label}, ${scenario.users} users watching ${who} ÷ not watching${target}`,
      scenario,
      value: idle(f),
      digits: 2,
      relativeTo: scenario.baseline,
    });
    return [
      ratio('time to log in', (r) => r.connectSeconds),
      // The whole RSS, not its growth: the users were registered first, so
      // the process already holds memory from their earlier connections and
      // grows little and unevenly during the measured login.
      ratio('RSS with all connected', (r) => r.rssAfterBytes),
      ratio('server CPU to log in', (r) => r.serverCpuSecondsToConnect),
    ];
  }
  // A presence baseline is shown through the scenarios compared with it.
  if (scenario.kind === 'idle' && scenario.watch) return [];
  if (scenario.kind === 'idle') {
    return [
      { label: `RSS per idle user, KiB, ${scenario.users} users`, scenario, value: idle((r) => r.rssPerUserBytes / 1024), digits: 1 },
      { label: `time to log in ${scenario.users} users, s`, scenario, value: idle((r) => r.connectSeconds), digits: 1 },
    ];
  }
  if (scenario.kind === 'memory') {
    return [
      { label: 'memory: RSS of the fresh server, MiB', scenario, value: memory((r) => r.rssStartBytes / MiB), digits: 1 },
      { label: `memory: RSS with ${scenario.users} idle users, MiB`, scenario, value: memory((r) => r.rssIdleBytes / MiB), digits: 1 },
      { label: `memory: peak RSS, saturation with ${scenario.pairs} pairs beside them, MiB`, scenario, value: memory((r) => r.rssPeakBytes / MiB), digits: 1 },
      { label: 'memory: RSS after everyone disconnected, MiB', scenario, value: memory((r) => r.rssAfterBytes / MiB), digits: 1 },
      { label: 'memory: growth still held after the disconnect, %', scenario, value: memory((r) => r.heldFraction * 100), digits: 0 },
      { label: `memory: msg/s, saturation, ${scenario.pairs} pairs beside ${scenario.users} idle users`, scenario, value: memory((r) => r.messagesPerSecond), digits: 0 },
      ...(scenario.heap ? heapMeasures(scenario) : []),
    ];
  }
  if (scenario.rate === undefined) {
    return [
      { label: `msg/s, saturation, ${scenario.pairs} pairs`, scenario, value: pairs((r) => r.messagesPerSecond), digits: 0 },
      { label: `server CPU µs/msg, saturation, ${scenario.pairs} pairs`, scenario, value: pairs((r) => r.serverCpuMicrosPerMessage), digits: 1 },
    ];
  }
  const at = `fixed ${scenario.rate} msg/s`;
  return [
    { label: `server CPU µs/msg, ${at}`, scenario, value: pairs((r) => r.serverCpuMicrosPerMessage), digits: 1 },
    { label: `p99 latency ms, ${at}`, scenario, value: pairs((r) => r.latencyMs.p99), digits: 2 },
    { label: `p99 receipt ms, ${at}`, scenario, value: pairs((r) => r.receiptLatencyMs.p99), digits: 2 },
    { label: `msg/s delivered, ${at}`, scenario, value: pairs((r) => r.messagesPerSecond), digits: 0 },
    { label: `PostgreSQL (+ NATS) CPU µs/msg, ${at}`, scenario, value: pairs((r) => r.engineCpuMicrosPerMessage), digits: 1, targets: engines },
  ];
}

/** TinyChat's V8 heap at each step of the memory part (--memory-heap); the relay has no such figure. */
function heapMeasures(scenario: Scenario): Measure[] {
  const heap = (step: 'start' | 'idle' | 'endOfLoad' | 'after') => (run: Run) => {
    const bytes = (run as MemoryRun).heapUsedBytes?.[step];
    return bytes === undefined ? NaN : bytes / 2 ** 20;
  };
  const targets: TargetName[] = ['tinychat'];
  return [
    { label: 'memory: V8 heap used, fresh, MiB', scenario, value: heap('start'), digits: 1, targets },
    { label: `memory: V8 heap used, ${scenario.users} idle users, MiB`, scenario, value: heap('idle'), digits: 1, targets },
    { label: 'memory: V8 heap used as the pairs finish, MiB', scenario, value: heap('endOfLoad'), digits: 1, targets },
    { label: 'memory: V8 heap used after everyone disconnected, MiB', scenario, value: heap('after'), digits: 1, targets },
  ];
}

/** The middle value (mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function number(value: number, digits: number): string {
  if (!Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function spreadOf(values: number[], digits: number): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return '';
  return ` [${number(Math.min(...finite), digits)}–${number(Math.max(...finite), digits)}]`;
}

/**
 * One cell: the median over repetitions with its range, and the median of
 * the ratios to the relay measured in the same repetition, with theirs.
 */
function cell(measure: Measure, target: TargetName, runs: Run[]): string {
  const mine = runs.filter((r) => r.scenario === measure.scenario.id && r.target === target && r.errors.length === 0);
  if (mine.length === 0) return '-';
  if (measure.relativeTo) return relativeCell(measure, measure.relativeTo, mine, runs);
  const values = mine.map(measure.value);
  let text = `${number(median(values), measure.digits)}${spreadOf(values, measure.digits)}`;
  if (target !== 'bare') {
    const ratios = mine.flatMap((run) => {
      const bare = runs.find((r) => r.scenario === run.scenario && r.target === 'bare' && r.repetition === run.repetition && r.errors.length === 0);
      const base = bare ? measure.value(bare) : NaN;
      return Number.isFinite(base) && base !== 0 ? [measure.value(run) / base] : [];
    });
    if (ratios.length > 0) text += ` · **${median(ratios).toFixed(2)}×**${ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : ''}`;
  }
  return text;
}

/** The median ratio to the baseline scenario's run of the same target and repetition [range]. */
function relativeCell(measure: Measure, baseline: string, mine: Run[], runs: Run[]): string {
  const ratios = mine.flatMap((run) => {
    const base = runs.find((r) => r.scenario === baseline && r.target === run.target && r.repetition === run.repetition && r.errors.length === 0);
    const value = base ? measure.value(base) : NaN;
    return Number.isFinite(value) && value !== 0 ? [measure.value(run) / value] : [];
  });
  if (ratios.length === 0) return '-';
  return `**${median(ratios).toFixed(2)}×**${spreadOf(ratios, 2)}`;
}

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function describe(run: Run): string {
  return `${run.scenario} ${TARGET_LABELS[run.target]} #${run.repetition}`;
}

/** The whole report, in markdown: how it was measured, the table, and what went wrong. */
export function formatResults(results: BenchResults): string {
  const o = results.options;
  const { runs } = results;
  const targets = ALL_TARGETS.filter((t) => results.scenarios.some((s) => s.targets.includes(t)));
  const header = ['', ...targets.map((t) => TARGET_LABELS[t])];
  const rows: string[][] = [];
  for (const scenario of results.scenarios) {
    for (const measure of measures(scenario)) {
      const shown = measure.targets ?? scenario.targets;
      if (!targets.some((t) => shown.includes(t) && scenario.targets.includes(t))) continue;
      rows.push([measure.label, ...targets.map((t) => (shown.includes(t) && scenario.targets.includes(t) ? cell(measure, t, runs) : ''))]);
    }
  }
  const m = results.machine;
  const quiet = runs.filter((r) => r.quiet).length;
  const noisy = runs.filter((r) => !r.quiet);
  const broken = runs.filter((r) => r.errors.length > 0);
  const retried = runs.filter((r) => r.attempts > 1).length;
  const out: string[] = [
    `Benchmark of ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC, commit ${m.commit}: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}; load average at the start ${m.loadAverage.map((l) => l.toFixed(2)).join(' ')}.`,
    '',
    `${o.fast ? '**Fast mode: every scenario, tiny and once; the figures check the tool and mean nothing.** ' : ''}` +
      `Each cell: median of ${o.repetitions} run(s) [range] · **median ratio to the bare relay in the same repetition** (range). ` +
      `Targets alternate run by run; every run has a fresh server process and a fresh load process; ${results.pinning}. ` +
      `${o.bytes}-byte messages; saturation: ${o.messages} messages per pair, at most ${o.window} without a receipt; ` +
      `fixed rates over ${o.ratePairs} pairs, ${o.rateSeconds} s measured after ${o.rateWarmupSeconds} s of warm-up. ` +
      'Server CPU is every server process (both nodes for two), from /proc; PostgreSQL (+ NATS) CPU counts the database backends of the run and the whole NATS process.' +
      (results.scenarios.some((s) => s.kind === 'memory')
        ? ` Memory: the server's RSS (VmRSS in /proc/<pid>/status) fresh, with ${o.idleUsers} idle users after ${o.idleSettleSeconds} s, ` +
          `its highest reading (every 100 ms) while ${o.memoryPairs} pairs log in and run at saturation beside them, and ${o.memorySettleSeconds} s after every user disconnected; ` +
          '"growth still held" is (after − fresh) / (peak − fresh), 0% when all of it came back. ' +
          'RSS also counts pages that the V8 heap and the allocator keep for reuse after freeing, so a share above 0 is not by itself a leak; one that grows from run to run, or in `npm run soak`, would be.' +
          (o.memoryHeap ? ' With --memory-heap TinyChat served its metrics in the memory runs (its RSS there includes them) and its V8 heap in use is shown beside.' : '')
        : ''),
    '',
    markdownTable(header, rows),
    '',
    `Delivery: ${broken.length === 0 ? `every message exactly once and in order in all ${runs.length} runs.` : `PROBLEMS in ${broken.length} of ${runs.length} runs (see below).`}`,
    `Machine: ${quiet} of ${runs.length} runs quiet (other processes used at most ${o.quietCores} of a core); ${retried} run(s) kept from a repeat after a noisy try` +
      (noisy.length > 0
        ? `; still noisy after ${o.retries} retries: ${noisy.map((r) => `${describe(r)} (${r.otherCores.toFixed(2)} cores)`).join(', ')}.`
        : '.'),
  ];
  for (const run of broken) {
    out.push('', `Problems in ${describe(run)}:`);
    for (const error of run.errors) out.push(`  - ${error}`);
  }
  for (const failure of results.failures) out.push('', `FAILED: ${failure}`);
  return out.join('\n');
}
