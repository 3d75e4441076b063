import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SoakResults } from '../../scripts/bench/soak-report';
import { makeTempDir, removeTempDirs } from '../support/temp-dir';

const SOAK = join(__dirname, '..', '..', 'scripts', 'soak.js');

interface SoakExit {
  code: number;
  stdout: string;
  stderr: string;
  results?: SoakResults;
}

/** Runs `npm run soak`'s program with `args` into a fresh directory and reads back what it wrote. */
function soak(args: string[]): Promise<SoakExit> {
  const out = makeTempDir('tinychat-soak-test-');
  return new Promise((resolve) => {
    execFile(process.execPath, [SOAK, ...args, '--out', out], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      const json = readdirSync(out).find((f) => f.endsWith('.json'));
      resolve({ code, stdout, stderr, results: json ? (JSON.parse(readFileSync(join(out, json), 'utf8')) as SoakResults) : undefined });
    });
  });
}

describe('the steady-rate soak (npm run soak)', function () {
  this.timeout(120_000);
  afterEach(() => removeTempDirs());

  it('samples a TinyChat server interval by interval, checks every delivery and compares the first interval with the last', async () => {
    // 6 seconds at 200 msg/s, a sample every 2 s: three intervals.
    const { code, stdout, stderr, results } = await soak(['--minutes', '0.1', '--interval-seconds', '2', '--rate', '200', '--pairs', '2']);
    expect(code, `${stderr}\n${stdout}`).to.equal(0);
    expect(results).to.not.equal(undefined);
    const { samples } = results!;
    expect(results!.errors).to.deep.equal([]);
    expect(results!.expected).to.equal(1200);
    expect(results!.delivered).to.equal(1200);
    expect(samples.map((s) => s.index)).to.deep.equal([1, 2, 3]);
    for (const sample of samples) {
      expect(sample.delivered, `interval ${sample.index}`).to.be.greaterThan(0);
      expect(sample.rssBytes).to.be.greaterThan(0);
      expect(sample.rssAnonBytes).to.be.greaterThan(0).and.at.most(sample.rssBytes);
      // TinyChat serves its metrics during a soak, so its heap is read every interval.
      expect(sample.heapUsedBytes).to.be.greaterThan(0);
      expect(sample.cpuMicrosPerMessage).to.be.at.least(0);
      expect(sample.p99Ms).to.be.at.least(sample.p50Ms);
    }
    expect(samples.reduce((n, s) => n + s.delivered, 0)).to.equal(1200);
    expect(stdout).to.match(/^\| # \| end, s \| RSS MiB \| anonymous MiB \| V8 heap used MiB \|/m);
    expect(stdout).to.match(/^\| 3 \| /m);
    expect(stdout).to.include('Delivery: all 1,200 messages exactly once and in order.');
    expect(stdout).to.match(/^RSS: [\d.]+ MiB after the first interval, [\d.]+ MiB after the last/m);
    expect(stdout).to.match(/^p99: [\d,.]+ ms in the first interval, [\d,.]+ ms in the last/m);
    expect(stdout).to.match(/^Verdict: /m);
  });

  it('soaks the relay too, without heap figures', async () => {
    const { code, stdout, stderr, results } = await soak(['--target', 'bare', '--minutes', '0.05', '--interval-seconds', '1', '--rate', '100', '--pairs', '1']);
    expect(code, `${stderr}\n${stdout}`).to.equal(0);
    expect(results!.delivered).to.equal(results!.expected);
    // Three intervals of a second; a late timer on a busy machine may merge the last two.
    expect(results!.samples.length).to.be.within(2, 3);
    for (const sample of results!.samples) expect(sample.heapUsedBytes).to.equal(undefined);
    expect(stdout).to.not.match(/^V8 heap used:/m);
  });

  it('refuses a target it cannot soak, saying which it can', async () => {
    const { code, stderr, results } = await soak(['--target', 'postgres']);
    expect(code).to.equal(2);
    expect(results).to.equal(undefined);
    expect(stderr).to.include('--target takes tinychat or bare, not "postgres"');
    expect(stderr).to.include('npm run soak -- --help');
  });
});
