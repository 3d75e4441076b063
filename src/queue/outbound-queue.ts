import type { StoredMessage } from '../store/store';

/**
 * One thing to deliver to a user's streams. Inbox messages go to every
 * reader; copies of a user's own sent messages to the user's other streams.
 * (Receipts, errors and presence are for one stream each and never come
 * here: the stream's OutboundPump holds them.)
 */
export type Delivery =
  | { kind: 'message'; message: StoredMessage }
  /** A copy of a message the user sent, for their other streams (all of them when it came from another node). */
  | { kind: 'copy'; message: StoredMessage; origin?: QueueReader }
  /** The store holds the user's inbox up to `sequence`: a stream that has not seen that far reads it from there. */
  | { kind: 'behind'; sequence: number };

/** A consumer of a queue: in practice one Converse stream. */
export interface QueueReader {
  /** Called (synchronously, from push) when new deliveries are waiting. */
  wake(): void;
  /**
   * Called when this reader fell more than the queue's limit behind. The
   * reader has already been detached; it should end its stream so the client
   * reconnects and resumes from the store.
   */
  overflow(limit: number): void;
}

/**
 * The bounded outbound queue of one online user, shared by all of the user's
 * streams. Each reader has its own position; a delivery is dropped once every
 * reader has passed it.
 *
 * Overflow rule: pushing never blocks and never reorders. When a reader is
 * more than `limit` deliveries behind, it is detached and told through
 * `overflow`; the others carry on. Nothing is lost by this: messages are in
 * the store, and the reader's client resumes from there.
 */
export class OutboundQueue {
  private items: Delivery[] = [];
  /** Index in `items` of the oldest delivery some reader still needs. */
  private head = 0;
  /** Absolute number of deliveries ever dropped from the front. */
  private dropped = 0;
  private readonly positions = new Map<QueueReader, number>();
  /** Newest inbox sequence pushed here, 0 before any. */
  lastSequence = 0;

  constructor(
    readonly userId: number,
    readonly limit: number,
  ) {}

  /** Number of readers attached. */
  get readerCount(): number {
    return this.positions.size;
  }

  /** Deliveries held for the slowest reader. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Starts a reader at the current end: it sees everything pushed from now on. */
  attach(reader: QueueReader): void {
    this.positions.set(reader, this.dropped + this.items.length);
  }

  /** Removes a reader and frees what only it still needed. */
  detach(reader: QueueReader): void {
    if (this.positions.delete(reader)) this.trim();
  }

  /** Adds a delivery for the readers and wakes them. */
  push(delivery: Delivery): void {
    const sequence = delivery.kind === 'message' ? delivery.message.sequence : delivery.kind === 'behind' ? delivery.sequence : 0;
    if (sequence > this.lastSequence) this.lastSequence = sequence;
    this.items.push(delivery);
    if (this.length > this.limit) this.cutOffLaggards();
    for (const reader of this.positions.keys()) reader.wake();
  }

  /** Takes up to `max` deliveries the reader has not seen, advancing its position. */
  read(reader: QueueReader, max: number): Delivery[] {
    const position = this.positions.get(reader);
    if (position === undefined) return [];
    const from = position - this.dropped;
    const to = Math.min(this.items.length, from + max);
    if (from >= to) return [];
    const taken = this.items.slice(from, to);
    this.positions.set(reader, position + taken.length);
    this.trim();
    return taken;
  }

  /** True when the reader has deliveries waiting. */
  hasPending(reader: QueueReader): boolean {
    const position = this.positions.get(reader);
    return position !== undefined && position < this.dropped + this.items.length;
  }

  private cutOffLaggards(): void {
    const end = this.dropped + this.items.length;
    for (const [reader, position] of [...this.positions]) {
      if (end - position > this.limit) {
        this.positions.delete(reader);
        reader.overflow(this.limit);
      }
    }
    this.trim();
  }

  /** Drops deliveries every reader has passed; compacts the array now and then. */
  private trim(): void {
    let oldest = this.dropped + this.items.length;
    for (const position of this.positions.values()) oldest = Math.min(oldest, position);
    const newHead = oldest - this.dropped;
    // Clear references so delivered messages can be collected before compaction.
    for (let i = this.head; i < newHead; i++) (this.items as unknown[])[i] = undefined;
    this.head = newHead;
    if (this.head === this.items.length) {
      this.dropped += this.items.length;
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.dropped += this.head;
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
