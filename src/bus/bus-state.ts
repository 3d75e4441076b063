import type { BusState } from './bus';
import { guarded, type BusErrorReporter } from './bus-errors';

/**
 * A bus's state and its listeners. Listeners hear each real change once, in
 * order, after `state` already has the new value; nothing after 'closed'.
 */
export class BusStateKeeper {
  private current: BusState;
  private readonly listeners = new Set<(state: BusState) => void>();

  constructor(
    initial: BusState,
    private readonly report: BusErrorReporter,
  ) {
    this.current = initial;
  }

  get state(): BusState {
    return this.current;
  }

  /** Moves to `next` and tells the listeners; ignored when nothing changes or once closed. */
  set(next: BusState): void {
    if (next === this.current || this.current === 'closed') return;
    this.current = next;
    // A copy: a listener may remove itself (or another) while being told.
    for (const listener of [...this.listeners]) {
      if (this.listeners.has(listener)) guarded(this.report, undefined, () => listener(next));
    }
    if (next === 'closed') this.listeners.clear();
  }

  /** Adds a listener; returns the function that removes it. */
  listen(listener: (state: BusState) => void): () => void {
    // Wrapped so that adding one function twice gives two independent listeners.
    const entry = (state: BusState) => listener(state);
    if (this.current !== 'closed') this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }
}
