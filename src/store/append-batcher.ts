import { isChatError } from '../chat/errors';
import type { AppendResult, NewMessage, Store } from './store';

/** The default largest batch handed to the store at once. */
export const DEFAULT_MAX_BATCH = 512;

/** Options for an AppendBatcher. */
export interface AppendBatcherOptions {
  /** At most this many messages per call to `store.appendMessages` (default 512). */
  maxBatch?: number;
}

interface Pending {
  message: NewMessage;
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

interface FlushWaiter {
  /** Resolve once this many appends have settled. */
  settledTarget: number;
  resolve: () => void;
}

/**
 * Groups appends into batches so many senders share one transaction (and one
 * durable commit) instead of paying for one each.
 *
 * Appends made in the same event-loop turn are written together at the end of
 * that turn (setImmediate), so a lone message waits for nothing else. Batches
 * are written strictly one after another, in arrival order; while one is
 * being written, the next accumulates, up to `maxBatch` messages.
 *
 * Each caller gets its own result. When the store cannot write at all
 * (ChatError 'unavailable'), every caller of that batch gets the error. Any
 * other failure is blamed on one message, so the batch is retried one message
 * at a time and only the offending caller fails: the store's atomicity means
 * the failed attempt stored nothing, which makes the retry safe.
 *
 * It only uses the Store interface, so it works with any backend.
 */
export class AppendBatcher {
  private readonly maxBatch: number;
  private queue: Pending[] = [];
  private scheduled = false;
  private writing = false;
  private enqueued = 0;
  private settled = 0;
  private flushWaiters: FlushWaiter[] = [];

  constructor(
    private readonly store: Store,
    options: AppendBatcherOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH);
  }

  /** Stores `message` with the next batch; resolves with its own result once durable. */
  append(message: NewMessage): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      this.enqueued++;
      this.schedule();
    });
  }

  /**
   * Resolves when every append made before this call has settled (stored or
   * failed; failures go to their callers). Used at shutdown.
   */
  flush(): Promise<void> {
    if (this.settled >= this.enqueued) return Promise.resolve();
    return new Promise<void>((resolve) => this.flushWaiters.push({ settledTarget: this.enqueued, resolve }));
  }

  // While a batch is being written the loop in drain() picks up new appends
  // itself, so a timer is only needed when idle.
  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      await this.write(batch);
      this.settled += batch.length;
      this.wakeFlushWaiters();
    }
    this.writing = false;
  }

  // Swapping the array keeps the common case O(1); splice only runs when a
  // backlog exceeds one batch.
  private takeBatch(): Pending[] {
    if (this.queue.length <= this.maxBatch) {
      const all = this.queue;
      this.queue = [];
      return all;
    }
    return this.queue.splice(0, this.maxBatch);
  }

  private async write(batch: Pending[]): Promise<void> {
    let results: AppendResult[];
    try {
      results = await this.store.appendMessages(batch.map((p) => p.message));
    } catch (err) {
      if (batch.length === 1 || isChatError(err, 'unavailable')) {
        for (const p of batch) p.reject(err);
        return;
      }
      for (const p of batch) await this.write([p]);
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]));
  }

  private wakeFlushWaiters(): void {
    if (this.flushWaiters.length === 0) return;
    const waiting: FlushWaiter[] = [];
    for (const waiter of this.flushWaiters) {
      if (waiter.settledTarget <= this.settled) waiter.resolve();
      else waiting.push(waiter);
    }
    this.flushWaiters = waiting;
  }
}
