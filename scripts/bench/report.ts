import type { IdleRun, PairsRun } from './runs';
import { TARGET_LABELS } from './server-child';

/** Everything one benchmark run measured, as written to results/. */
export interface BenchResults {
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; commit: string };
  options: Record<string, unknown>;
  throughput: PairsRun[];
  rate: PairsRun[];
  idle: IdleRun[];
  profiles: unknown[];
}

const MIB = 1024 * 1024;

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '-' : `${(a / b).toFixed(2)}×`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function check(errors: string[]): string {
  return errors.length === 0 ? 'ok' : `${errors.length} PROBLEMS`;
}

function pairsRows(runs: PairsRun[], key: (run: PairsRun) => string): string[][] {
  const rows: string[][] = [];
  const groups = new Map<string, PairsRun[]>();
  for (const run of runs) groups.set(key(run), [...(groups.get(key(run)) ?? []), run]);
  for (const [group, members] of groups) {
    for (const run of members) {
      rows.push([
        group,
        TARGET_LABELS[run.target],
        fixed(run.messagesPerSecond, 0),
        fixed(run.latencyMs.p50, 2),
        fixed(run.latencyMs.p99, 2),
        fixed(run.latencyMs.max, 1),
        fixed(run.serverCpuMicrosPerMessage, 1),
        fixed(run.serverPeakRssBytes / MIB, 0),
        fixed(run.serverCores, 2),
        fixed(run.loadCores, 2),
        fixed(run.otherCores, 2),
        `${run.delivered}/${run.messages} ${check(run.errors)}`,
      ]);
    }
    const tiny = members.find((r) => r.target === 'tinychat');
    const bare = members.find((r) => r.target === 'bare');
    if (tiny && bare) {
      rows.push([
        group,
        'ratio T/B',
        ratio(tiny.messagesPerSecond, bare.messagesPerSecond),
        ratio(tiny.latencyMs.p50, bare.latencyMs.p50),
        ratio(tiny.latencyMs.p99, bare.latencyMs.p99),
        ratio(tiny.latencyMs.max, bare.latencyMs.max),
        ratio(tiny.serverCpuMicrosPerMessage, bare.serverCpuMicrosPerMessage),
        ratio(tiny.serverPeakRssBytes, bare.serverPeakRssBytes),
        ratio(tiny.serverCores, bare.serverCores),
        '',
        '',
        '',
      ]);
    }
  }
  return rows;
}

const PAIRS_HEADER = ['pairs', 'server', 'msg/s', 'p50 ms', 'p99 ms', 'max ms', 'CPU µs/msg', 'peak RSS MiB', 'server cores', 'load cores', 'other cores', 'delivered / check'];

/** The results as the tables printed at the end of a run. */
export function formatResults(results: BenchResults): string {
  const o = results.options;
  const out: string[] = [
    `TinyChat vs a bare gRPC relay — ${results.machine.cpus} cores (${results.machine.cpuModel}), node ${results.machine.node}, commit ${results.machine.commit}`,
    `${o.bytes}-byte messages; load from ${o.workers} worker processes on the same machine`,
    'CPU µs/msg: server CPU time (all threads, from /proc) per delivered message; cores: CPU seconds per second of the run;',
    'other cores: the rest of the machine meanwhile (kernel networking, anything else running — high values mean noisy numbers)',
  ];
  if (results.throughput.length > 0) {
    out.push('', `Throughput: each pair sends ${o.messages} messages, at most ${o.window} without a receipt`);
    out.push(table(PAIRS_HEADER, pairsRows(results.throughput, (r) => String(r.pairs))));
  }
  if (results.rate.length > 0) {
    const r = results.rate[0];
    out.push('', `Fixed rate: ${r.targetRate} msg/s over ${r.pairs} pairs, ${o.rateSeconds} s measured after ${o.rateWarmupSeconds} s of warm-up`);
    out.push(table(PAIRS_HEADER, pairsRows(results.rate, (run) => String(run.pairs))));
  }
  if (results.idle.length > 0) {
    out.push('', `Idle: users logged in, each holding a Converse stream on its own connection${o.idleWatchPresence ? ' (watching presence)' : ''}`);
    const rows = results.idle.map((run) => [
      `${run.connected}/${run.users}`,
      TARGET_LABELS[run.target],
      fixed(run.connectSeconds, 1),
      fixed(run.rssPerUserBytes / 1024, 1),
      fixed(run.rssBeforeBytes / MIB, 0),
      fixed(run.rssAfterBytes / MIB, 0),
      fixed(run.serverPeakRssBytes / MIB, 0),
      String(run.serverOpenFds),
      fixed(run.serverCpuSecondsToConnect, 1),
      check(run.errors),
    ]);
    const tiny = results.idle.find((r) => r.target === 'tinychat');
    const bare = results.idle.find((r) => r.target === 'bare');
    if (tiny && bare) {
      rows.push([
        '',
        'ratio T/B',
        ratio(tiny.connectSeconds, bare.connectSeconds),
        ratio(tiny.rssPerUserBytes, bare.rssPerUserBytes),
        '',
        ratio(tiny.rssAfterBytes, bare.rssAfterBytes),
        ratio(tiny.serverPeakRssBytes, bare.serverPeakRssBytes),
        '',
        ratio(tiny.serverCpuSecondsToConnect, bare.serverCpuSecondsToConnect),
        '',
      ]);
    }
    out.push(
      table(['users', 'server', 'connect s', 'RSS KiB/user', 'RSS before MiB', 'RSS after MiB', 'peak RSS MiB', 'server fds', 'server CPU s', 'check'], rows),
    );
  }
  const problems = [...results.throughput, ...results.rate, ...results.idle].filter((r) => r.errors.length > 0);
  for (const run of problems) {
    out.push('', `Problems with ${TARGET_LABELS[run.target]} (${'pairs' in run ? `${run.pairs} pairs` : `${run.users} idle users`}):`);
    for (const error of run.errors) out.push(`  - ${error}`);
  }
  return out.join('\n');
}
