import { ChatError } from './errors';

/** How many failed logins are allowed per window, by name and by client address. */
export interface LoginLimits {
  perName: number;
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perName: 5, perAddress: 20, windowMs: 60_000 };

interface Window {
  failures: number;
  startedAt: number;
}

/** Entries kept before expired ones are swept, so a flood of names cannot grow memory without bound. */
const SWEEP_AT = 10_000;

/**
 * Slows down password guessing: after too many failed logins for one name,
 * or from one address, within a window, further attempts are refused with
 * RESOURCE_EXHAUSTED until the window ends. A successful login clears the
 * name's count. Counts live in memory (per server node).
 */
export class LoginThrottle {
  private readonly byName = new Map<string, Window>();
  private readonly byAddress = new Map<string, Window>();

  constructor(
    private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Throws RESOURCE_EXHAUSTED when this name or address may not try now. */
  check(nameKey: string, address: string | undefined): void {
    const now = this.clock();
    this.refuseIfOver(this.byName, nameKey, this.limits.perName, now, `for ${nameKey}`);
    if (address) this.refuseIfOver(this.byAddress, address, this.limits.perAddress, now, 'from your address');
  }

  /** Counts a failed attempt. */
  failed(nameKey: string, address: string | undefined): void {
    const now = this.clock();
    this.count(this.byName, nameKey, now);
    if (address) this.count(this.byAddress, address, now);
  }

  /** Clears the name's failures after a successful login. */
  succeeded(nameKey: string): void {
    this.byName.delete(nameKey);
  }

  private refuseIfOver(windows: Map<string, Window>, key: string, limit: number, now: number, what: string): void {
    if (limit <= 0) return;
    const window = windows.get(key);
    if (!window || now - window.startedAt >= this.limits.windowMs || window.failures < limit) return;
    const seconds = Math.ceil((window.startedAt + this.limits.windowMs - now) / 1000);
    throw new ChatError('resource-exhausted', `too many failed logins ${what} — try again in ${seconds} s`);
  }

  private count(windows: Map<string, Window>, key: string, now: number): void {
    const window = windows.get(key);
    if (!window || now - window.startedAt >= this.limits.windowMs) {
      if (windows.size >= SWEEP_AT) this.sweep(windows, now);
      windows.set(key, { failures: 1, startedAt: now });
    } else {
      window.failures++;
    }
  }

  private sweep(windows: Map<string, Window>, now: number): void {
    for (const [key, window] of windows) if (now - window.startedAt >= this.limits.windowMs) windows.delete(key);
  }
}
