import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/sqlite-store';

/**
 * A repeatable SQLite append workload for instruction counts: opens a store
 * on a fresh temporary file, registers 20 users, then appends COUNT
 * one-message batches (the batch size at everyday rates) between 10 pairs,
 * in turn, and closes the store. Run it under callgrind twice, with two
 * counts, and divide the difference in instructions by the difference in
 * counts to get the cost of one append without the cost of starting Node:
 *
 *   npx tsc -p tsconfig.json
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/a200.out node dist/scripts/append-cost.js 200
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/a2200.out node dist/scripts/append-cost.js 2200
 *
 * Each run prints callgrind's "Collected" total on stderr; (total at 2200 −
 * total at 200) / 2000 is the instructions per append.
 */
async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? '1000');
  if (!Number.isInteger(count) || count < 0) throw new Error(`the count must be a whole number, not "${process.argv[2]}"`);
  const dir = mkdtempSync(join(tmpdir(), 'tinychat-append-cost-'));
  try {
    const store = openSqliteStore(join(dir, 'append.db'));
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push((await store.registerUser(`user${i}`, 0)).user.id);
    for (let n = 0; n < count; n++) {
      const pair = n % 10;
      await store.appendMessages([
        { senderId: ids[2 * pair], receiverId: ids[2 * pair + 1], clientId: `c${n}`, body: `message number ${n} of the run`, time: n, kind: 'text' },
      ]);
    }
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
