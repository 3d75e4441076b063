/**
 * Runs in a worker thread beside a SqliteStore: copies the WAL back into the
 * database file every few hundred milliseconds on a connection of its own.
 * A checkpoint waits for fsync; done here, that wait never blocks the event
 * loop that serves clients (SQLite's automatic checkpoint would run inside a
 * commit on that loop).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new Database(path, { timeout: 1000 });
function checkpoint(): void {
  try {
    // PASSIVE: copies what it can without waiting for readers or writers.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or briefly unavailable: the next tick tries again, and the store
    // checkpoints once more when it closes.
  }
}

// Once right away, so the files this connection holds open are all open
// from the start (a server counts its descriptors to find leaks).
checkpoint();
const timer = setInterval(checkpoint, intervalMs);

parentPort!.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
