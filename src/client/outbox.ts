import type { FileInfo } from '../gen/tinychat/v1/chat';

/** A message the person sent that the server has not yet confirmed. */
export interface PendingSend {
  /** The identifier the server deduplicates retries by. */
  readonly clientId: string;
  readonly receiver: string;
  readonly body: string;
  /** An action ("/ME waves") rather than a plain message. */
  readonly action?: boolean;
  /** A file message: the file, already uploaded completely. */
  readonly file?: FileInfo;
}

interface EmptyWaiter {
  resolve: (empty: boolean) => void;
  timer: NodeJS.Timeout;
}

/**
 * The sends awaiting a receipt, in the order they were made. A send stays
 * here across reconnects, so it can be written again with the same clientId
 * (the server stores it once) until its receipt or refusal arrives.
 */
export class Outbox {
  // Map keeps insertion order, which is the order sends must be replayed in.
  private readonly sends = new Map<string, PendingSend>();
  private readonly emptyWaiters = new Set<EmptyWaiter>();

  /** Number of sends still awaiting an answer. */
  get size(): number {
    return this.sends.size;
  }

  /** Records a new send. */
  add(send: PendingSend): void {
    this.sends.set(send.clientId, send);
  }

  /** True when the send with this clientId awaits an answer. */
  has(clientId: string): boolean {
    return this.sends.has(clientId);
  }

  /** The send made first among those still pending. */
  oldest(): PendingSend | undefined {
    return this.sends.values().next().value;
  }

  /** Removes and returns the send with this clientId; undefined when it is not pending (a repeated receipt). */
  take(clientId: string): PendingSend | undefined {
    const send = this.sends.get(clientId);
    if (!send) return undefined;
    this.sends.delete(clientId);
    for (const waiter of this.emptyWaiters) {
      if (this.sends.size === 0) {
        clearTimeout(waiter.timer);
        waiter.resolve(true);
      } else {
        // An answer is progress: a long queue that keeps moving is not stuck.
        waiter.timer.refresh();
      }
    }
    if (this.sends.size === 0) this.emptyWaiters.clear();
    return send;
  }

  /** Every pending send, oldest first. */
  list(): PendingSend[] {
    return [...this.sends.values()];
  }

  /**
   * Resolves true once nothing is pending, or false when timeoutMs passes
   * without any send being answered: the wait is bounded by silence, not by
   * the length of the queue, so a long queue paced by the server can finish.
   */
  whenEmpty(timeoutMs: number): Promise<boolean> {
    if (this.sends.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: EmptyWaiter = {
        resolve,
        timer: setTimeout(() => {
          this.emptyWaiters.delete(waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.emptyWaiters.add(waiter);
    });
  }
}
