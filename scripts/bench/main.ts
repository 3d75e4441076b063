import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { LoadPool } from './load-pool';
import { readOptions, USAGE, type BenchOptions } from './options';
import { openFileLimit } from './proc-stats';
import { formatProfileSummary, summarizeProfile } from './profile-summary';
import { formatResults, type BenchResults } from './report';
import { runIdle, runPairs } from './runs';
import { TARGET_LABELS } from './server-child';

/**
 * `npm run bench`: TinyChat and the bare relay under the same load, one
 * after the other, each on a fresh server process; prints the table and
 * writes the results as JSON under results/.
 */

// Descriptors a process needs besides its sockets (stdio, the database, pipes, epoll…).
const SPARE_FDS = 200;

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

function checkFileLimit(options: BenchOptions): void {
  if (!options.only.includes('idle')) return;
  const limit = openFileLimit();
  const perWorker = Math.ceil(options.idleUsers / options.workers);
  // The server holds every user's connection; each worker holds its share.
  const needed = Math.max(options.idleUsers, perWorker) + SPARE_FDS;
  if (needed > limit) {
    throw new Error(
      `the idle run needs about ${needed} open files per process but the limit is ${limit}: ` +
        'raise it with `ulimit -n` (npm run bench raises it to the hard limit) or lower --idle-users',
    );
  }
}

function log(text: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof readOptions>;
  try {
    parsed = readOptions(process.argv.slice(2));
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)} — see the options with: npm run bench -- --help`);
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const options = { ...parsed, outDir: resolve(parsed.outDir) };
  checkFileLimit(options);
  mkdirSync(options.outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      commit: commit(),
    },
    options: { ...options },
    throughput: [],
    rate: [],
    idle: [],
    profiles: [],
  };
  const failures: string[] = [];
  let pool = new LoadPool(options.workers);
  // After a failed run the workers may be mid-job: start over with fresh ones.
  const failed = async (what: string, err: unknown) => {
    failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    log(`FAILED: ${what}`);
    await pool.exit();
    pool = new LoadPool(options.workers);
  };
  try {
    if (options.only.includes('throughput')) {
      for (const pairs of options.pairs) {
        for (const target of options.targets) {
          log(`throughput: ${TARGET_LABELS[target]}, ${pairs} pairs × ${options.messages} messages`);
          try {
            results.throughput.push(await runPairs(pool, target, options, { pairs, fixedRate: false, stamp }));
          } catch (err) {
            await failed(`throughput ${target} ${pairs} pairs`, err);
          }
        }
      }
    }
    if (options.only.includes('rate')) {
      for (const target of options.targets) {
        log(`fixed rate: ${TARGET_LABELS[target]}, ${options.rate} msg/s over ${options.ratePairs} pairs`);
        try {
          results.rate.push(await runPairs(pool, target, options, { pairs: options.ratePairs, fixedRate: true, stamp }));
        } catch (err) {
          await failed(`fixed rate ${target}`, err);
        }
      }
    }
    if (options.only.includes('idle')) {
      for (const target of options.targets) {
        log(`idle: ${TARGET_LABELS[target]}, ${options.idleUsers} users`);
        try {
          results.idle.push(await runIdle(pool, target, options, stamp));
        } catch (err) {
          await failed(`idle ${target}`, err);
        }
      }
    }
  } finally {
    await pool.exit();
  }

  const profiled = [...results.throughput, ...results.rate, ...results.idle].flatMap((r) => (r.cpuProfile ? [r.cpuProfile] : []));
  const profileTexts: string[] = [];
  for (const file of profiled) {
    try {
      const summary = summarizeProfile(file);
      results.profiles.push(summary);
      profileTexts.push(formatProfileSummary(summary));
    } catch (err) {
      failures.push(`profile ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  const file = join(options.outDir, `bench-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify({ ...results, failures }, null, 2)}\n`);
  process.stdout.write(`\n${formatResults(results)}\n`);
  for (const text of profileTexts) process.stdout.write(`\n${text}\n`);
  for (const failure of failures) process.stdout.write(`\nFAILED: ${failure}\n`);
  process.stdout.write(`\nresults written to ${file}\n`);
  const problems = [...results.throughput, ...results.rate, ...results.idle].some((r) => r.errors.length > 0);
  return failures.length > 0 || problems ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
