import { nameKey } from '../chat/names';

/** What the filter needs to know about a delivered message. */
export interface Delivered {
  readonly receiver: string;
  readonly id: number;
  readonly sequence: number;
}

// Copies of the user's own sends are only ever repeated shortly after the
// original (a reconnect replay), so remembering the most recent ids is enough.
const REMEMBERED_COPIES = 2048;

/**
 * Decides which delivered messages are new, so each is shown exactly once
 * although the server delivers at least once.
 *
 * Messages in the user's own inbox are numbered 1, 2, 3, … and new means a
 * sequence past the last one shown. Copies of messages the user sent from
 * elsewhere carry the receiver's sequence, which says nothing about this
 * inbox, so they are recognised by message id instead.
 */
export class DeliveryFilter {
  private user = '';
  private last: number | undefined;
  private readonly copies = new Set<number>();

  /** Whose inbox this is; messages addressed to anyone else are copies. */
  setUser(user: string): void {
    this.user = nameKey(user);
  }

  /** Highest inbox sequence shown so far; undefined before the position is known. */
  get lastSequence(): number | undefined {
    return this.last;
  }

  /** Sets the inbox position: everything at or below it counts as shown. */
  setPosition(sequence: number): void {
    this.last = sequence;
  }

  /** True when the message belongs to this user's inbox (rather than being a copy of a send). */
  isInbox(message: Delivered): boolean {
    return nameKey(message.receiver) === this.user;
  }

  /** Remembers a message id as shown: a later copy of it is not new. */
  remember(id: number): void {
    this.copies.add(id);
    if (this.copies.size > REMEMBERED_COPIES) {
      // Sets iterate in insertion order: the first entry is the oldest.
      const oldest = this.copies.values().next().value as number;
      this.copies.delete(oldest);
    }
  }

  /** True when the message has not been shown yet; records it as shown. */
  accept(message: Delivered): boolean {
    if (this.isInbox(message)) {
      if (this.last !== undefined && message.sequence <= this.last) return false;
      this.last = message.sequence;
      return true;
    }
    if (this.copies.has(message.id)) return false;
    this.remember(message.id);
    return true;
  }
}
