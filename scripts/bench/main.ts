import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { currentCommit } from './commit-id';
import { costCurveDocument, costCurveTable } from './cost-curve';
import { TARGET_LABELS } from './deployment';
import { readOptions, USAGE, type BenchOptions } from './options';
import { choosePinning } from './pinning';
import { openFileLimit } from './proc-stats';
import { formatProfileSummary, summarizeProfile } from './profile-summary';
import { formatResults, type BenchResults } from './report';
import { runOnce, scenarios, stopRunning, type Run } from './runs';

/**
 * `npm run bench`: every scenario against every target, repeated, with the
 * targets interleaved run by run so that a change in the machine's state
 * touches all of them alike. Each run gets a fresh server and load process,
 * pinned to their own cores; a run during which the rest of the machine was
 * busy is repeated. Prints a markdown table (medians, ranges, ratios to the
 * bare relay) and writes it with the raw runs under results/.
 */

// Descriptors a process needs besides its sockets (stdio, the database, pipes, epoll…).
const SPARE_FDS = 200;

function checkFileLimit(options: BenchOptions): void {
  if (!options.only.includes('idle') && !options.only.includes('memory')) return;
  const limit = openFileLimit();
  // The server holds every user's connection; each worker holds its share.
  const needed = options.idleUsers + SPARE_FDS;
  if (needed > limit) {
    throw new Error(
      `the idle and memory runs need about ${needed} open files per process but the limit is ${limit}: ` +
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
  // Interrupted: stop the servers, the load and drop the run's database before leaving.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the run in progress`);
      void stopRunning().then(() => process.exit(130));
    });
  }
  checkFileLimit(options);
  mkdirSync(options.outDir, { recursive: true });
  const pinning = choosePinning(options.pin);
  log(pinning.description);
  // This process only coordinates; it stays off the server's core.
  pinning.pinLoad(process.pid);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const plan = scenarios(options);
  const results: BenchResults = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      commit: currentCommit(),
      loadAverage: loadavg(),
    },
    pinning: pinning.description,
    options: { ...options },
    scenarios: plan,
    runs: [],
    failures: [],
    profiles: [],
  };

  for (let repetition = 1; repetition <= options.repetitions; repetition++) {
    for (const scenario of plan) {
      // Who goes first changes from one repetition to the next.
      const order = scenario.targets.map((_, i) => scenario.targets[(i + repetition - 1) % scenario.targets.length]);
      for (const target of order) {
        const what = `${scenario.id}, ${TARGET_LABELS[target]}, repetition ${repetition}/${options.repetitions}`;
        let kept: Run | undefined;
        for (let attempt = 1; attempt <= options.retries + 1; attempt++) {
          log(`${what}${attempt > 1 ? `, attempt ${attempt}` : ''}`);
          try {
            const run = await runOnce(scenario, target, { options, pinning, stamp, repetition });
            kept = { ...run, attempts: attempt };
          } catch (err) {
            results.failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
            log(`FAILED: ${what}`);
            kept = undefined;
            break;
          }
          if (kept.quiet) break;
          log(`  other processes used ${kept.otherCores.toFixed(2)} cores (more than ${options.quietCores})${attempt <= options.retries ? ': repeating' : ': kept, marked noisy'}`);
        }
        if (kept) results.runs.push(kept);
      }
    }
  }
  results.finishedAt = new Date().toISOString();

  const profileTexts: string[] = [];
  for (const file of results.runs.flatMap((r) => (r.cpuProfile ? [r.cpuProfile] : []))) {
    try {
      const summary = summarizeProfile(file);
      results.profiles.push(summary);
      profileTexts.push(formatProfileSummary(summary));
    } catch (err) {
      results.failures.push(`profile ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  const curve = costCurveTable(results);
  const report = formatResults(results) + (curve ? `\n\nCost curve, TinyChat (SQLite) against the relay at the fixed rates:\n\n${curve}` : '');
  const base = join(options.outDir, `bench-${stamp}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${report}\n`);
  if (options.curveOut) {
    const document = costCurveDocument(results, `npm run bench -- ${process.argv.slice(2).join(' ')}`);
    if (document) {
      mkdirSync(dirname(resolve(options.curveOut)), { recursive: true });
      writeFileSync(options.curveOut, document);
    }
  }
  process.stdout.write(`\n${report}\n`);
  for (const text of profileTexts) process.stdout.write(`\n${text}\n`);
  process.stdout.write(`\nresults written to ${base}.md and ${base}.json${options.curveOut ? `; the cost curve to ${options.curveOut}` : ''}\n`);
  const problems = results.runs.some((r) => r.errors.length > 0);
  return results.failures.length > 0 || problems ? 1 : 0;
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
