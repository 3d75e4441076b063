/** A message the person sent that the server has not yet confirmed. */
export interface PendingSend {
  /** The identifier the server deduplicates retries by. */
  readonly clientId: string;
  readonly receiver: string;
  readonly body: string;
}

/**
 * The sends awaiting a receipt, in the order they were made. A send stays
 * here across reconnects, so it can be written again with the same clientId
 * (the server stores it once) until its receipt or refusal arrives.
 */
export class Outbox {
  // Map keeps insertion order, which is the order sends must be replayed in.
  private readonly sends = new Map<string, PendingSend>();
  private readonly emptyWaiters = new Set<() => void>();

  /** Number of sends still awaiting an answer. */
  get size(): number {
    return this.sends.size;
  }

  /** Records a new send. */
  add(send: PendingSend): void {
    this.sends.set(send.clientId, send);
  }

  /** Removes and returns the send with this clientId; undefined when it is not pending (a repeated receipt). */
  take(clientId: string): PendingSend | undefined {
    const send = this.sends.get(clientId);
    if (!send) return undefined;
    this.sends.delete(clientId);
    if (this.sends.size === 0) {
      for (const wake of this.emptyWaiters) wake();
      this.emptyWaiters.clear();
    }
    return send;
  }

  /** Every pending send, oldest first. */
  list(): PendingSend[] {
    return [...this.sends.values()];
  }

  /** Resolves true once nothing is pending, or false when timeoutMs passes first. */
  whenEmpty(timeoutMs: number): Promise<boolean> {
    if (this.sends.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.emptyWaiters.delete(wake);
        resolve(false);
      }, timeoutMs);
      this.emptyWaiters.add(wake);
    });
  }
}
