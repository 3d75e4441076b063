import { ChatError } from './errors';
import type { Logger } from '../log';
import type { OnlineDirectory } from './online';
import type { SessionEnd, SessionEndReason, Store } from '../store/store';

/** How often the log of ended sessions is read: well inside the promised second. */
export const SESSION_END_POLL_MS = 250;
/** Ends older than this are pruned: every server has long acted on them. */
const KEEP_ENDS_MS = 24 * 60 * 60 * 1000;
const PRUNE_EVERY_MS = 10 * 60 * 1000;
const PAGE = 500;

/** What a stream whose session ended is told; a logout ends it with OK. */
function closingError(reason: SessionEndReason): ChatError | undefined {
  switch (reason) {
    case 'logout':
      return undefined;
    case 'password-changed':
      return new ChatError('unauthenticated', 'your password was changed — log in again with the new one');
    case 'password-reset':
      return new ChatError('unauthenticated', "the server's operator set a new password for your account — log in again with it");
    case 'disabled':
      return new ChatError('unauthenticated', "your account was disabled by the server's operator — ask them to re-enable it");
  }
}

/**
 * Closes the open streams of sessions that ended anywhere: through this
 * server (/QUIT, /PASSWORD), another server node, or an operator's
 * `tinychat user` in another process. The store's log of ended sessions is
 * the one source for all three, read every SESSION_END_POLL_MS; `poll()`
 * reads it at once (a node that hears of an end sooner calls it).
 */
export class SessionEndFollower {
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private lastPrune = 0;
  private failing = false;

  constructor(
    private readonly store: Store,
    private readonly online: OnlineDirectory,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
    private readonly intervalMs = SESSION_END_POLL_MS,
  ) {}

  /** Starts following from the newest end recorded so far. */
  async start(): Promise<void> {
    this.cursor = await this.store.lastSessionEndId();
    this.lastPrune = this.clock();
    this.schedule();
  }

  /** Reads the log now; resolves once every end recorded before the call has been acted on. */
  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    clearTimeout(this.timer);
    this.running = this.readAll().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.poll();
      } else {
        this.schedule();
      }
    });
    return this.running;
  }

  /** Stops following; resolves once a read in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  private async readAll(): Promise<void> {
    try {
      for (;;) {
        const ends = await this.store.sessionEndsAfter(this.cursor, PAGE);
        for (const end of ends) this.act(end);
        if (ends.length > 0) this.cursor = ends[ends.length - 1].id;
        if (ends.length < PAGE) break;
      }
      const now = this.clock();
      if (now - this.lastPrune >= PRUNE_EVERY_MS) {
        this.lastPrune = now;
        await this.store.pruneSessionEnds(now - KEEP_ENDS_MS);
      }
      if (this.failing) this.logger.info('session-ends-readable', {});
      this.failing = false;
    } catch (err) {
      // The store may be briefly unavailable; keep trying, log once.
      if (!this.failing) this.logger.error('session-ends-unreadable', { error: String(err) });
      this.failing = true;
    }
  }

  private act(end: SessionEnd): void {
    const error = closingError(end.reason);
    if (end.tokenHash !== undefined) this.online.endSession(end.tokenHash, error);
    else this.online.endUserSessions(end.userId, end.keptTokenHash, error);
  }
}
