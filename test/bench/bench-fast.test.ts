import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOptions } from '../../scripts/bench/options';
import type { BenchResults } from '../../scripts/bench/report';
import { makeTempDir, removeTempDirs } from '../support/temp-dir';

const MAIN = join(__dirname, '..', '..', 'scripts', 'bench', 'main.js');

interface BenchExit {
  code: number;
  stdout: string;
  stderr: string;
  results: BenchResults;
}

/** Runs the benchmark with `args` into a fresh directory and reads back what it wrote. */
function bench(args: string[]): Promise<BenchExit> {
  const out = makeTempDir('tinychat-bench-test-');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [MAIN, ...args, '--out', out], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      const json = readdirSync(out).find((f) => f.endsWith('.json'));
      if (!json) return reject(new Error(`the benchmark wrote no results (exit ${code}):\n${stderr}\n${stdout}`));
      resolve({ code, stdout, stderr, results: JSON.parse(readFileSync(join(out, json), 'utf8')) as BenchResults });
    });
  });
}

describe('the benchmark (npm run bench -- --fast)', function () {
  // Several dozen server and load processes start one after the other.
  this.timeout(240_000);
  afterEach(() => removeTempDirs());

  it('runs every scenario against TinyChat and the relay, verifies every delivery and prints the whole table and the cost curve', async () => {
    const curveFile = join(makeTempDir('tinychat-bench-curve-'), 'docs', 'cost-curve.md');
    const { code, stdout, stderr, results } = await bench(['--fast', '--targets', 'tinychat,bare', '--curve-out', curveFile]);
    expect(code, `${stderr}\n${stdout}`).to.equal(0);
    expect(results.scenarios.map((s) => s.id)).to.deep.equal(['sat-2', 'sat-4', 'rate-100', 'rate-200', 'idle-20', 'watch-20-none', 'watch-20-peers', 'memory-20']);
    expect(results.runs).to.have.length(14);
    for (const run of results.runs) {
      expect(run.errors, `${run.scenario} ${run.target}`).to.deep.equal([]);
      if (run.kind === 'pairs') {
        expect(run.delivered).to.equal(run.messages).and.be.greaterThan(0);
        // CPU is read in 10 ms ticks: a tiny run may show none, but never a missing figure.
        expect(run.serverCpuMicrosPerMessage).to.be.a('number').and.be.at.least(0);
        expect(run.latencyMs.count).to.be.greaterThan(0);
        expect(run.latencyMs.p99).to.be.at.least(run.latencyMs.p50);
        expect(run.receiptLatencyMs.count).to.be.greaterThan(0);
      } else if (run.kind === 'idle') {
        expect(run.connected).to.equal(20);
        expect(run.rssAfterBytes).to.be.greaterThan(0);
      } else {
        expect(run.connected).to.equal(20);
        expect(run.delivered).to.equal(run.messages).and.be.greaterThan(0);
        expect(run.rssStartBytes).to.be.greaterThan(0);
        // The peak is the highest reading from the idle users on, so never below theirs.
        expect(run.rssPeakBytes).to.be.at.least(run.rssIdleBytes);
        expect(run.rssAfterBytes).to.be.greaterThan(0);
        expect(run.heldFraction).to.be.a('number').and.satisfy(Number.isFinite);
      }
    }
    // Each target goes first in turn is not visible with one repetition; alternation within one is.
    expect(results.runs.map((r) => r.target)).to.deep.equal([...Array(5).fill(['tinychat', 'bare']).flat(), 'tinychat', 'tinychat', 'tinychat', 'bare']);
    for (const row of [
      'msg/s, saturation, 2 pairs',
      'msg/s, saturation, 4 pairs',
      'server CPU µs/msg, fixed 100 msg/s',
      'server CPU µs/msg, fixed 200 msg/s',
      'p99 latency ms, fixed 200 msg/s',
      'p99 receipt ms, fixed 200 msg/s',
      'RSS per idle user, KiB, 20 users',
      'time to log in 20 users, s',
      'memory: RSS of the fresh server, MiB',
      'memory: RSS with 20 idle users, MiB',
      'memory: peak RSS, saturation with 2 pairs beside them, MiB',
      'memory: RSS after everyone disconnected, MiB',
    ]) {
      const line = stdout.split('\n').find((l) => l.startsWith(`| ${row} |`));
      expect(line, row).to.be.a('string');
      // A figure for TinyChat with its ratio to the relay, and one for the relay.
      expect(line, row).to.match(/^\| [^|]+ \| [\d,.]+ · \*\*\d+\.\d\d×\*\* \| [\d,.]+ \|$/);
    }
    // The presence row: the same users watching 10 peers each against not watching, as ratios.
    for (const row of ['time to log in', 'RSS with all connected', 'server CPU to log in']) {
      const label = `${row}, 20 users watching 10 peers each ÷ not watching (target ≤ 2×)`;
      const line = stdout.split('\n').find((l) => l.startsWith(`| ${label} |`));
      expect(line, label).to.be.a('string');
      // CPU is read in 10 ms ticks: a tiny run may have none to compare ('-').
      expect(line, label).to.match(/^\| [^|]+ \| (\*\*\d+\.\d\d×\*\*|-) \|  \|$/);
    }
    expect(stdout).to.include('Delivery: every message exactly once and in order in all 14 runs.');
    expect(stdout).to.match(/Machine: \d+ of 14 runs quiet/);
    expect(stdout).to.include('Fast mode');
    expect(stdout).to.match(/growth still held after the disconnect, % \|/);

    // The cost curve: one row per rate, each with both targets' figures and the two ratios.
    const curve = readFileSync(curveFile, 'utf8');
    expect(stdout).to.include('Cost curve, TinyChat (SQLite) against the relay at the fixed rates:');
    for (const rate of ['100', '200']) {
      const line = curve.split('\n').find((l) => l.startsWith(`| ${rate} |`));
      expect(line, `curve row ${rate}`).to.match(/^\| \d+ \| [\d,.]+ \| [\d,.]+ \| \d+\.\d\d× \| [\d,.]+ \| [\d,.]+ \| \d+\.\d\d× \| [\d,]+ \/ [\d,]+ \|$/);
      expect(stdout).to.include(line);
    }
    expect(curve).to.include('every message was delivered exactly once and in order');
  });

  it("reads TinyChat's V8 heap beside its RSS in the memory part when asked", async () => {
    const { code, stdout, stderr, results } = await bench(['--fast', '--only', 'memory', '--memory-heap', '--targets', 'tinychat']);
    expect(code, `${stderr}\n${stdout}`).to.equal(0);
    expect(results.runs).to.have.length(1);
    const run = results.runs[0];
    if (run.kind !== 'memory') throw new Error('expected a memory run');
    expect(run.errors).to.deep.equal([]);
    for (const step of ['start', 'idle', 'endOfLoad', 'after'] as const) expect(run.heapUsedBytes?.[step], step).to.be.greaterThan(0);
    expect(stdout).to.match(/^\| memory: V8 heap used after everyone disconnected, MiB \| [\d,.]+ \|$/m);
  });

  it('notices a server that loses messages, and fails', async () => {
    const { code, stdout, results } = await bench(['--fast', '--only', 'throughput', '--pairs', '2', '--warmup-messages', '0', '--targets', 'bare', '--bare-drop-every', '7']);
    expect(code).to.equal(1);
    expect(results.runs).to.have.length(1);
    expect(results.runs[0].errors.join('\n')).to.match(/expected message \d+, got \d+/);
    expect(stdout).to.include('Delivery: PROBLEMS in 1 of 1 runs');
    expect(stdout).to.match(/\| msg\/s, saturation, 2 pairs \| - \|/);
  });

  it('runs TinyChat on a database in memory beside the real one when asked, and not by default', async () => {
    const { code, stdout, stderr, results } = await bench(['--fast', '--only', 'rate', '--rates', '100', '--targets', 'tinychat,unstored,bare']);
    expect(code, `${stderr}\n${stdout}`).to.equal(0);
    expect(results.runs.map((r) => r.target).sort()).to.deep.equal(['bare', 'tinychat', 'unstored']);
    for (const run of results.runs) {
      expect(run.errors).to.deep.equal([]);
      if (run.kind !== 'pairs') throw new Error('expected a pairs run');
      expect(run.delivered).to.equal(run.messages).and.be.greaterThan(0);
    }
    expect(stdout).to.match(/\| server CPU µs\/msg, fixed 100 msg\/s \| [\d,.]+ .*\| [\d,.]+ .*\| [\d,.]+ .*\|/);
    expect(stdout).to.include('TinyChat, database in memory');
    const defaults = readOptions([]);
    expect(defaults !== 'help' && defaults.targets).to.deep.equal(['tinychat', 'bare', 'postgres', 'cluster']);
  });

  it('runs one PostgreSQL node, and two nodes with senders on one and receivers on the other', async () => {
    const { code, stdout, stderr, results } = await bench(['--fast', '--only', 'rate', '--rates', '100', '--targets', 'postgres,cluster']);
    expect(code, `${stderr}\n${stdout}`).to.equal(0);
    expect(results.runs.map((r) => r.target)).to.deep.equal(['postgres', 'cluster']);
    for (const run of results.runs) {
      expect(run.errors).to.deep.equal([]);
      if (run.kind !== 'pairs') throw new Error('expected a pairs run');
      expect(run.delivered).to.equal(run.messages).and.be.greaterThan(0);
      expect(run.engineCpuMicrosPerMessage).to.be.a('number').and.be.at.least(0);
    }
    expect(stdout).to.match(/\| PostgreSQL \(\+ NATS\) CPU µs\/msg, fixed 100 msg\/s \| [\d,.]+ \| [\d,.]+ \|/);
  });
});
