import { ChatError, waitPhrase } from './errors';

/** How many failed logins are allowed per window, by name and by client address. */
export interface LoginLimits {
  /** Failures for one name from one address; also how many failures from all addresses mark a name as under attack. */
  perName: number;
  /** Failures from one address, whatever the names. */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perName: 5, perAddress: 20, windowMs: 60_000 };

interface Window {
  failures: number;
  startedAt: number;
}

/** A login's outcome as other server nodes hear of it, so that every node counts every failure. */
export interface LoginOutcomeNote {
  outcome: 'failed' | 'succeeded';
  nameKey: string;
  address?: string;
}

/** Entries kept before expired ones are swept, so a flood of names cannot grow memory without bound. */
const SWEEP_AT = 10_000;

/**
 * Slows down password guessing without handing a stranger the power to lock
 * the owner out. Failures are counted per window in three ways:
 *
 * - per address: after `perAddress` failures an address may not try any name;
 * - per name and address: after `perName` failures that address may not try
 *   that name (other addresses still may);
 * - per name: once a name has had `perName` failures from anywhere it is
 *   under attack, and every address that has failed for it even once must
 *   wait — so guesses spread over many addresses get one try each.
 *
 * An address with no failures for a name is never refused for it (unless the
 * address as a whole is over its limit): the owner, logging in from their
 * own address with the right password, gets in however many guesses others
 * made. Refusals are RESOURCE_EXHAUSTED with the wait, rounded up, in words
 * and in `retryAfterMs`. Counts live in memory (per server node).
 */
export class LoginThrottle {
  private readonly byAddress = new Map<string, Window>();
  private readonly byName = new Map<string, Window>();
  private readonly byNameAndAddress = new Map<string, Window>();
  private observer: ((note: LoginOutcomeNote) => void) | undefined;

  constructor(
    private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Throws RESOURCE_EXHAUSTED when this address may not try this name now. */
  check(nameKey: string, address: string | undefined): void {
    const now = this.clock();
    const { perName, perAddress } = this.limits;
    if (address === undefined) {
      // No address to tell the owner from a guesser: fall back to the name alone.
      this.refuseIfOver(this.byName, nameKey, perName, now, `too many failed logins for ${nameKey}`);
      return;
    }
    this.refuseIfOver(this.byAddress, address, perAddress, now, 'too many failed logins from your address');
    const pair = pairKey(nameKey, address);
    this.refuseIfOver(this.byNameAndAddress, pair, perName, now, `too many failed logins for ${nameKey} from your address`);
    const failuresForName = this.live(this.byName.get(nameKey), now)?.failures ?? 0;
    if (perName > 0 && failuresForName >= perName) {
      this.refuseIfOver(this.byNameAndAddress, pair, 1, now, `too many failed logins for ${nameKey} from several addresses, yours among them`);
    }
  }

  /** Sets the one observer of outcomes here (the cluster link tells other nodes). */
  observe(observer: (note: LoginOutcomeNote) => void): void {
    this.observer = observer;
  }

  /** Counts an outcome another node saw, as if it had happened here. */
  apply(note: LoginOutcomeNote): void {
    if (note.outcome === 'failed') this.countFailure(note.nameKey, note.address);
    else this.clear(note.nameKey, note.address);
  }

  /** Counts a failed attempt. */
  failed(nameKey: string, address: string | undefined): void {
    this.countFailure(nameKey, address);
    this.observer?.({ outcome: 'failed', nameKey, address });
  }

  /** Clears this address's failures for the name after a successful login. */
  succeeded(nameKey: string, address: string | undefined): void {
    this.clear(nameKey, address);
    this.observer?.({ outcome: 'succeeded', nameKey, address });
  }

  private countFailure(nameKey: string, address: string | undefined): void {
    const now = this.clock();
    this.count(this.byName, nameKey, now);
    if (address === undefined) return;
    this.count(this.byAddress, address, now);
    this.count(this.byNameAndAddress, pairKey(nameKey, address), now);
  }

  private clear(nameKey: string, address: string | undefined): void {
    if (address === undefined) this.byName.delete(nameKey);
    else this.byNameAndAddress.delete(pairKey(nameKey, address));
  }

  private live(window: Window | undefined, now: number): Window | undefined {
    return window && now - window.startedAt < this.limits.windowMs ? window : undefined;
  }

  private refuseIfOver(windows: Map<string, Window>, key: string, limit: number, now: number, what: string): void {
    if (limit <= 0) return;
    const window = this.live(windows.get(key), now);
    if (!window || window.failures < limit) return;
    const waitMs = window.startedAt + this.limits.windowMs - now;
    throw new ChatError('resource-exhausted', `${what} — try again ${waitPhrase(waitMs)}`, waitMs);
  }

  private count(windows: Map<string, Window>, key: string, now: number): void {
    const window = this.live(windows.get(key), now);
    if (window) {
      window.failures++;
      return;
    }
    if (windows.size >= SWEEP_AT) this.sweep(windows, now);
    windows.set(key, { failures: 1, startedAt: now });
  }

  private sweep(windows: Map<string, Window>, now: number): void {
    for (const [key, window] of windows) if (!this.live(window, now)) windows.delete(key);
  }
}

function pairKey(nameKey: string, address: string): string {
  return `${nameKey}\n${address}`;
}
