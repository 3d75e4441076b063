/** How long to wait between reconnect attempts. */
export interface BackoffOptions {
  /** Delay before the first retry, in milliseconds. */
  initialMs: number;
  /** The delay never grows past this, in milliseconds. */
  maxMs: number;
}

/** 250 ms doubling to 5 s: quick after a blip, gentle on a server that is down. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 5000 };

/**
 * Exponential backoff with jitter. Each next() doubles the ceiling up to
 * maxMs and returns a delay between half the ceiling and the ceiling, so many
 * clients cut off by one server restart do not all come back in the same
 * millisecond. reset() starts over after a successful connection.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt, in milliseconds. */
  next(): number {
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * 2 ** this.attempt);
    if (ceiling < this.options.maxMs) this.attempt += 1;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** Forgets past failures: the next delay is short again. */
  reset(): void {
    this.attempt = 0;
  }
}
