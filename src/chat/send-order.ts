/**
 * Keeps the sends of one stream in the order they were made. Each send first
 * does its own lookups (who is the receiver?), which take varying time on a
 * database server; it then waits for its turn before it joins the store's
 * queue, so a quick send never overtakes a slow one before it.
 */
export class SendOrder {
  private tail: Promise<void> = Promise.resolve();

  /** Takes the next turn: `ready` resolves when every earlier turn is `done`; call `done` exactly once. */
  next(): { ready: Promise<void>; done: () => void } {
    const ready = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => (done = resolve));
    return { ready, done };
  }
}
