import type { Outbox, PendingSend } from './outbox';

/**
 * What the pump does with the send it is given: 'written' when it went to the
 * stream and an answer will come, 'dropped' when it was answered without
 * the server (refused locally and taken out of the outbox).
 */
export type WriteOutcome = 'written' | 'dropped';

/**
 * Writes the outbox's sends to the stream one at a time, oldest first: the
 * next is written only once the previous one is answered.
 *
 * One at a time is what keeps order when the server limits the send rate:
 * a send refused "too fast, retry after N ms" must not be overtaken by a
 * later one that happens to arrive once the server's bucket has refilled,
 * and with several sends in flight that cannot be prevented. A paced send
 * holds the whole outbox until it has been written again, with the same
 * clientId, after the wait the server asked for.
 */
export class SendPump {
  private write: ((send: PendingSend) => WriteOutcome) | undefined;
  private flying: PendingSend | undefined;
  private holdTimer: NodeJS.Timeout | undefined;

  constructor(private readonly outbox: Outbox) {}

  /** The send written and not yet answered, if any. */
  get inFlight(): PendingSend | undefined {
    return this.flying;
  }

  /** A stream is ready for sends: writing starts again from the oldest pending one. */
  attach(write: (send: PendingSend) => WriteOutcome): void {
    this.write = write;
    this.flying = undefined;
    this.pump();
  }

  /**
   * The stream ended: nothing more is written until the next attach(), and
   * the send in flight (returned) will be written again then, unless the
   * caller takes it out of the outbox.
   */
  detach(): PendingSend | undefined {
    const lost = this.flying;
    this.write = undefined;
    this.flying = undefined;
    return lost;
  }

  /** A send was added to the outbox. */
  added(): void {
    this.pump();
  }

  /** The send with this clientId was answered (stored or refused for good) and taken out of the outbox. */
  answered(clientId: string): void {
    if (this.flying?.clientId === clientId) this.flying = undefined;
    this.pump();
  }

  /** The server refused the send with this clientId for now: it is written again after delayMs, and nothing overtakes it. */
  pace(clientId: string, delayMs: number): void {
    if (this.flying?.clientId === clientId) this.flying = undefined;
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      this.pump();
    }, delayMs);
  }

  /** Stops for good: no timer is left running. */
  stop(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.write = undefined;
    this.flying = undefined;
  }

  private pump(): void {
    while (this.write && !this.flying && !this.holdTimer) {
      const next = this.outbox.oldest();
      if (!next) return;
      if (this.write(next) === 'written') this.flying = next;
    }
  }
}
