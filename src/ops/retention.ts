import type { Logger } from '../log';
import type { Store } from '../store/store';
import type { ServerMetrics } from './metrics';

const DAY_MS = 86_400_000;

/** How retention paces itself; tests shorten the interval. */
export interface RetentionTimings {
  /** Between passes (default: an hour). */
  intervalMs: number;
  /** Messages deleted per store call; the event loop serves others between calls. */
  batch: number;
}

const DEFAULT_TIMINGS: RetentionTimings = { intervalMs: 3_600_000, batch: 1000 };

/**
 * Deletes messages older than `days` days (`--retention-days`), one-to-one
 * and room messages alike: once when started, then every interval. Each pass
 * deletes in small batches, so a large backlog on the first run never holds
 * up chat for long. A failed pass is logged and tried again at the next
 * interval.
 */
export class Retention {
  private readonly timings: RetentionTimings;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly days: number,
    private readonly logger: Logger,
    private readonly metrics: ServerMetrics,
    timings: Partial<RetentionTimings> = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.timings = { ...DEFAULT_TIMINGS, ...timings };
  }

  start(): void {
    this.run();
    this.timer = setInterval(() => this.run(), this.timings.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a pass under way (before the store closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private run(): void {
    if (this.running || this.stopped) return;
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
  }

  private async pass(): Promise<void> {
    const before = this.clock() - this.days * DAY_MS;
    let messages = 0;
    let roomMessages = 0;
    try {
      // A short batch means no old one-to-one message is left.
      await this.inBatches(
        (limit) => this.store.deleteMessagesBefore(before, limit),
        (deleted) => deleted < this.timings.batch,
        (deleted) => (messages += deleted),
      );
      // A room batch is bounded by inbox entries, so it may come back short
      // with more to go (RoomStore.deleteRoomMessagesBefore): only 0 ends it.
      await this.inBatches(
        (limit) => this.store.deleteRoomMessagesBefore(before, limit),
        (deleted) => deleted === 0,
        (deleted) => (roomMessages += deleted),
      );
    } catch (err) {
      this.logger.error('retention-failed', { error: String(err), hint: 'retried at the next interval' });
    }
    const count = messages + roomMessages;
    if (count > 0) this.logger.info('messages-expired', { count, room_messages: roomMessages, older_than: new Date(before).toISOString() });
  }

  // Deletes batch after batch until `done` says so or retention stops,
  // letting the event loop serve others between them; each batch is counted
  // as it goes, so a pass that fails halfway still reports what went.
  private async inBatches(
    deleteBatch: (limit: number) => Promise<number>,
    done: (deleted: number) => boolean,
    count: (deleted: number) => void,
  ): Promise<void> {
    while (!this.stopped) {
      const deleted = await deleteBatch(this.timings.batch);
      if (deleted > 0) {
        count(deleted);
        this.metrics.messagesExpired(deleted);
      }
      if (done(deleted)) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
