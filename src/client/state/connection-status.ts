import type { ConnectionState, StateChange } from '../events';

/** How the status bar colours the connection: fine, working on it, or cut off. */
export type StatusTone = 'ok' | 'busy' | 'down';

/** The connection as a person reads it in the status bar. */
export interface StatusText {
  tone: StatusTone;
  /** "connected", "reconnecting in 3 s", "offline", … */
  text: string;
}

/**
 * The connection state for the status bar, with a countdown while the
 * connection waits before its next attempt. Times are milliseconds since the
 * epoch, passed in so the countdown can be tested without waiting.
 */
export class ConnectionStatus {
  private current: ConnectionState = 'idle';
  private reconnecting = false;
  private retryAt: number | undefined;
  private why: string | undefined;

  /** Where the connection is. */
  get state(): ConnectionState {
    return this.current;
  }

  /** Why the last connection or attempt failed, while it is not connected. */
  get reason(): string | undefined {
    return this.why;
  }

  /** Records a state change that happened at `now`. */
  update(change: StateChange, now: number): void {
    this.current = change.state;
    this.reconnecting = change.reconnect;
    this.retryAt = change.state === 'reconnecting' ? now + (change.delayMs ?? 0) : undefined;
    if (change.state === 'connected') this.why = undefined;
    else if (change.reason) this.why = change.reason;
  }

  /** What to show at `now`. */
  describe(now: number): StatusText {
    switch (this.current) {
      case 'connected':
        return { tone: 'ok', text: 'connected' };
      case 'reconnecting': {
        const seconds = Math.max(1, Math.ceil(((this.retryAt ?? now) - now) / 1000));
        return { tone: 'down', text: `reconnecting in ${seconds} s` };
      }
      case 'connecting':
        return this.reconnecting ? { tone: 'down', text: 'reconnecting…' } : { tone: 'busy', text: 'connecting…' };
      case 'closed':
        return { tone: 'down', text: 'offline' };
      case 'idle':
        return { tone: 'busy', text: 'not connected' };
    }
  }

  /** Milliseconds until describe() would say something else (the countdown), or undefined when it stays. */
  nextChangeIn(now: number): number | undefined {
    if (this.current !== 'reconnecting' || this.retryAt === undefined) return undefined;
    const left = this.retryAt - now;
    if (left <= 0) return undefined;
    return left % 1000 || 1000;
  }
}
