import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * `npm run soak:faults`: the fault scenarios of test/fault (crash under load, slow
 * consumer, churn, database full), larger and longer than in `npm test`,
 * round after round. Each scenario grows with the scale (more pairs, more
 * messages, more kills, more churning clients) and its time limit grows with
 * it, so every round ends by itself.
 *
 *   npm run soak:faults -- [--scale N] [--rounds N] [--max-minutes N] [--grep TEXT]
 *
 * The same settings can come from TINYCHAT_SOAK_SCALE, TINYCHAT_SOAK_ROUNDS
 * and TINYCHAT_SOAK_MAX_MINUTES.
 */

const USAGE = `usage: npm run soak:faults -- [options]

  --scale N        how much larger than in npm test (TINYCHAT_SOAK_SCALE, default 5)
  --rounds N       how many times to run the scenarios (TINYCHAT_SOAK_ROUNDS, default 3)
  --max-minutes N  start no new round after this long (TINYCHAT_SOAK_MAX_MINUTES, default 30)
  --grep TEXT      only the scenarios whose name contains TEXT
  -h, --help       show this help
`;

function whole(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`--${name} must be a whole number from 1 to ${max}, not "${text}"`);
  return value;
}

function main(): number {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string' },
      rounds: { type: 'string' },
      'max-minutes': { type: 'string' },
      grep: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const env = process.env;
  const scale = whole('scale', values.scale ?? env.TINYCHAT_SOAK_SCALE, 5, 100);
  const rounds = whole('rounds', values.rounds ?? env.TINYCHAT_SOAK_ROUNDS, 3, 1000);
  const maxMinutes = whole('max-minutes', values['max-minutes'] ?? env.TINYCHAT_SOAK_MAX_MINUTES, 30, 24 * 60);

  const root = join(__dirname, '..', '..');
  const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
  const args = [mocha, '--no-config', '--enable-source-maps', '--timeout', String(120_000 * scale), ...(values.grep ? ['--grep', values.grep] : []), 'dist/test/fault/*.test.js'];
  const started = Date.now();
  let failed = 0;
  let ran = 0;
  for (let round = 1; round <= rounds; round++) {
    if (Date.now() - started > maxMinutes * 60_000) {
      process.stdout.write(`\nsoak:faults: ${maxMinutes} minutes passed; not starting round ${round}\n`);
      break;
    }
    process.stdout.write(`\nsoak:faults: round ${round} of ${rounds}, scale ${scale}\n`);
    const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...env, TINYCHAT_FAULT_SCALE: String(scale) } });
    ran++;
    if (result.status !== 0) failed++;
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  process.stdout.write(`\nsoak:faults: ${ran - failed} of ${ran} rounds passed in ${minutes} minutes\n`);
  return failed === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (err) {
  process.stderr.write(`soak:faults: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
