import type { Logger } from '../log';
import type { Store } from '../store/store';

/**
 * Persists acknowledged positions without a write per ack: clients ack often,
 * only the highest value matters, and a lost ack only means a message is sent
 * again (delivery is at-least-once; clients drop repeats). Pending values are
 * written every `intervalMs` and on flush().
 */
export class AckRecorder {
  private readonly pending = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly intervalMs = 100,
  ) {}

  /** Notes that `userId` has shown everything up to `sequence`. */
  record(userId: number, sequence: number): void {
    if ((this.pending.get(userId) ?? 0) >= sequence) return;
    this.pending.set(userId, sequence);
    this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  /** The highest position recorded for the user, counting what is not written yet. */
  latest(userId: number, stored: number): number {
    return Math.max(stored, this.pending.get(userId) ?? 0);
  }

  /** Writes every pending position; resolves when they are stored. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending];
    this.pending.clear();
    this.writing = this.writing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.store.ack(batch.map(([userId, sequence]) => ({ userId, sequence })));
      } catch (err) {
        this.logger.error('ack-write-failed', { users: batch.length, error: String(err) });
      }
    });
    return this.writing;
  }
}
