import { ChatError } from './errors';
import { validateName } from './names';
import { hashToken, newSessionToken } from './tokens';
import type { SessionRecord, Store, UserRecord } from '../store/store';

/** How long a session token works after login. */
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** Who is calling: the user behind a valid session token. */
export interface Caller {
  user: UserRecord;
  session: SessionRecord;
}

/** The outcome of a successful login. */
export interface LoginOutcome {
  user: UserRecord;
  token: string;
  expiresAt: number;
  registered: boolean;
}

const LOGIN_HINT = 'log in with /LOGIN <name> and send the token as "authorization: Bearer <token>"';

/**
 * Logging in, checking tokens and logging out. A name's first login
 * registers it. Passwords will slot in here: `login` is the only place that
 * decides whether a name may be used.
 */
export class Accounts {
  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
    private readonly sessionTtlMs: number = SESSION_TTL_MS,
  ) {}

  /** Logs in as `name`, registering it on first use, and opens a new session. */
  async login(name: string): Promise<LoginOutcome> {
    validateName(name);
    const now = this.clock();
    const { user, created } = await this.store.registerUser(name, now);
    const token = newSessionToken();
    const expiresAt = now + this.sessionTtlMs;
    await this.store.createSession({ tokenHash: hashToken(token), userId: user.id, createdAt: now, expiresAt });
    await this.store.touchUser(user.id, now);
    return { user: { ...user, lastSeenAt: now }, token, expiresAt, registered: created };
  }

  /** The caller behind `token`, or UNAUTHENTICATED saying how to get a valid one. */
  async authenticate(token: string | undefined): Promise<Caller> {
    if (!token) throw new ChatError('unauthenticated', `this call needs a session token: ${LOGIN_HINT}`);
    const session = await this.store.findSession(hashToken(token));
    if (!session) throw new ChatError('unauthenticated', `this session token is unknown or has ended: ${LOGIN_HINT}`);
    if (session.expiresAt <= this.clock()) {
      throw new ChatError('unauthenticated', `this session has expired: ${LOGIN_HINT}`);
    }
    const user = await this.store.findUserById(session.userId);
    if (!user) throw new ChatError('unauthenticated', `the user of this session no longer exists: ${LOGIN_HINT}`);
    return { user, session };
  }

  /** Ends the caller's session: its token stops working. */
  async logout(caller: Caller): Promise<void> {
    await this.store.deleteSession(caller.session.tokenHash);
    await this.store.touchUser(caller.user.id, this.clock());
  }
}
