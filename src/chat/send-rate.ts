import { ChatError, waitPhrase } from './errors';

/** Messages per second a user may send on average, and how many at once. 0 turns the limit off. */
export interface SendRateLimit {
  perSecond: number;
  burst: number;
}

export const DEFAULT_SEND_RATE: SendRateLimit = { perSecond: 20, burst: 100 };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token bucket per user: bursts up to `burst` messages pass, a steady
 * flood is held to `perSecond`. Refusals say when to try again.
 */
export class SendRateLimiter {
  private readonly buckets = new Map<number, Bucket>();

  constructor(
    private readonly limit: SendRateLimit = DEFAULT_SEND_RATE,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes one token for the user, or throws RESOURCE_EXHAUSTED with a retry-after hint. */
  take(userId: number): void {
    const { perSecond, burst } = this.limit;
    if (perSecond <= 0) return;
    const now = this.clock();
    let bucket = this.buckets.get(userId);
    if (!bucket) {
      if (this.buckets.size >= 10_000) this.sweep(now);
      bucket = { tokens: burst, updatedAt: now };
      this.buckets.set(userId, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedAt) * perSecond) / 1000);
    bucket.updatedAt = now;
    if (bucket.tokens < 1) {
      const waitMs = Math.ceil(((1 - bucket.tokens) / perSecond) * 1000);
      throw new ChatError(
        'resource-exhausted',
        `you are sending too fast (at most ${perSecond} messages a second, ${burst} at once) — try again ${waitPhrase(waitMs)}`,
        waitMs,
      );
    }
    bucket.tokens -= 1;
  }

  // Full buckets carry no state worth keeping.
  private sweep(now: number): void {
    const { perSecond, burst } = this.limit;
    for (const [userId, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) * perSecond) / 1000 >= burst) this.buckets.delete(userId);
    }
  }
}
