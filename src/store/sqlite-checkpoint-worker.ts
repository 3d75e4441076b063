/**
 * Runs in a worker thread beside a SqliteStore: copies the WAL back into the
 * database file on a connection of its own, at most every few hundred
 * milliseconds while the store writes, and not at all while it does not.
 * A checkpoint waits for fsync; done here, that wait never blocks the event
 * loop that serves clients (SQLite's automatic checkpoint would run inside a
 * commit on that loop).
 *
 * The store counts its writes in `writes` and wakes this thread with
 * Atomics.notify; this thread counts its checkpoints in `checkpoints`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const data = workerData as { path: string; intervalMs: number; writes: SharedArrayBuffer; checkpoints: SharedArrayBuffer };
const writes = new Int32Array(data.writes);
const checkpoints = new Int32Array(data.checkpoints);
const db = new Database(data.path, { timeout: 1000 });
let stopped = false;
let pause: NodeJS.Timeout | undefined;

function checkpoint(): void {
  try {
    // PASSIVE: copies what it can without waiting for readers or writers.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or briefly unavailable: the next write brings another try, and
    // the store checkpoints once more when it closes.
  }
  Atomics.add(checkpoints, 0, 1);
}

async function follow(): Promise<void> {
  // Once right away, so the files this connection holds open are all open
  // from the start (a server counts its descriptors to find leaks).
  let copied = Atomics.load(writes, 0);
  checkpoint();
  while (!stopped) {
    const seen = Atomics.load(writes, 0);
    if (seen === copied) {
      // Nothing new: sleep until a write, with no timer to wake for.
      const waiting = Atomics.waitAsync(writes, 0, seen);
      if (waiting.async) await waiting.value;
      continue;
    }
    // Writes come in runs: one checkpoint an interval takes a whole run.
    await new Promise((resolve) => (pause = setTimeout(resolve, data.intervalMs)));
    if (stopped) return;
    copied = Atomics.load(writes, 0);
    checkpoint();
  }
}

parentPort!.on('message', (message) => {
  if (message !== 'stop') return;
  stopped = true;
  clearTimeout(pause);
  // Ends this thread's own wait, so nothing is left pending.
  Atomics.notify(writes, 0);
  db.close();
  parentPort!.close();
});
void follow();
