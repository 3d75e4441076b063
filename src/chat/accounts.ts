import { asChatError, ChatError } from './errors';
import { DEFAULT_LOGIN_LIMITS, LoginThrottle, type LoginLimits } from './login-throttle';
import { nameKey, validateName } from './names';
import { checkNewPassword, DEFAULT_PASSWORD_COST, hashPassword, verifyPassword } from './passwords';
import { hashToken, newSessionToken } from './tokens';
import type { NewLogin, RecordedLogin, SessionRecord, Store, UserRecord } from '../store/store';

/** How long a session token works after login, by default. */
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** Who may create an account: anyone by logging in ('open'), or only an operator ('closed'). */
export type RegistrationPolicy = 'open' | 'closed';

/** How accounts behave; every field has a default. */
export interface AccountOptions {
  registration: RegistrationPolicy;
  sessionTtlMs: number;
  /** scrypt cost (log2 N) for new hashes; stored hashes keep their own. */
  passwordCost: number;
  loginLimits: LoginLimits;
  clock: () => number;
  /** The throttle to count failed logins in (default: one of its own with `loginLimits`). */
  throttle?: LoginThrottle;
  /** Told of every login attempt once it is decided (for the log and metrics). */
  onLogin?: (attempt: LoginAttempt) => void;
}

/**
 * A decided login attempt: `ok`, `failed` (refused: wrong password, unknown
 * or disabled account, a name or password that is not allowed), `locked_out`
 * (the throttle refused to check it) or `error` (the server could not decide).
 * Never the password.
 */
export interface LoginAttempt {
  name: string;
  address: string | undefined;
  outcome: 'ok' | 'failed' | 'locked_out' | 'error';
  /** For all but `ok`: what the caller was told. */
  error?: ChatError;
}

/**
 * Who is calling: the user behind a valid session token. Only what requests
 * use is kept, since a stream holds its Caller for as long as it is open
 * (and the password hash has no business there).
 */
export interface Caller {
  user: Pick<UserRecord, 'id' | 'name'>;
  session: Pick<SessionRecord, 'tokenHash'>;
}

/** The outcome of a successful login. */
export interface LoginOutcome {
  user: UserRecord;
  token: string;
  expiresAt: number;
  registered: boolean;
}

const LOGIN_HINT = 'log in with /LOGIN <name> <password> and send the token as "authorization: Bearer <token>"';

/**
 * Logging in, checking tokens, logging out and changing passwords.
 *
 * With open registration, the first login of a name registers it with the
 * password given. A name registered before accounts had passwords has none:
 * with open registration its next login sets one; with closed registration
 * it cannot log in until an operator sets one (`tinychat user passwd`).
 */
export class Accounts {
  private readonly options: AccountOptions;
  private readonly throttle: LoginThrottle;

  constructor(
    private readonly store: Store,
    options: Partial<AccountOptions> = {},
  ) {
    this.options = {
      registration: 'open',
      sessionTtlMs: SESSION_TTL_MS,
      passwordCost: DEFAULT_PASSWORD_COST,
      loginLimits: DEFAULT_LOGIN_LIMITS,
      clock: Date.now,
      // An option passed as undefined keeps its default.
      ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
    };
    this.throttle = this.options.throttle ?? new LoginThrottle(this.options.loginLimits, this.options.clock);
  }

  /**
   * Logs in as `name` with `password` from client `address` (for throttling),
   * registering the name on first use when registration is open, and opens
   * a new session. With `register: false` an unknown name is NOT_FOUND and
   * nothing is registered (a client asks for the password again first).
   */
  async login(name: string, password: string | undefined, address?: string, options: { register?: boolean } = {}): Promise<LoginOutcome> {
    const register = options.register ?? true;
    const report = this.options.onLogin;
    if (!report) return this.attemptLogin(name, password, address, register);
    try {
      const outcome = await this.attemptLogin(name, password, address, register);
      report({ name, address, outcome: 'ok' });
      return outcome;
    } catch (err) {
      const error = asChatError(err);
      const outcome = error.code === 'resource-exhausted' ? 'locked_out' : error.code === 'unavailable' || error.code === 'internal' ? 'error' : 'failed';
      report({ name, address, outcome, error });
      throw err;
    }
  }

  // A login reads the user, checks or hashes the password, and then writes
  // once: the session, the user's lastSeenAt and, for a new name, the user
  // (Store.recordLogin, one transaction).
  private async attemptLogin(name: string, password: string | undefined, address: string | undefined, register: boolean): Promise<LoginOutcome> {
    validateName(name);
    if (!password) {
      throw new ChatError('invalid-argument', `a password is required: /LOGIN ${name} <password> (the first login of a name sets it)`);
    }
    const key = nameKey(name);
    this.throttle.check(key, address);
    let user = await this.store.findUserByName(name);
    if (!user) {
      const passwordHash = await this.hashForNewUser(name, password, register);
      const first = await this.openSession({ name, passwordHash });
      if (first.recorded.opened) {
        this.throttle.succeeded(key, address);
        return first.outcome;
      }
      // Someone registered the name in the meantime: treat this as a login to it.
      user = first.recorded.user;
    }
    if (user.disabled) {
      throw new ChatError('unauthenticated', `the account ${user.name} is disabled — ask the server's operator`);
    }
    if (user.passwordHash === null) {
      await this.claimPasswordless(user, password);
    } else if (!(await verifyPassword(password, user.passwordHash))) {
      this.throttle.failed(key, address);
      throw new ChatError('unauthenticated', `wrong name or password for ${user.name} — check both and try again`);
    }
    this.throttle.succeeded(key, address);
    return (await this.openSession({ id: user.id })).outcome;
  }

  /**
   * Records a login with a new token in one store call. The outcome holds
   * only when `recorded.opened`; otherwise the name was taken meanwhile and
   * `recorded.user` is who holds it.
   */
  private async openSession(user: NewLogin['user']): Promise<{ recorded: RecordedLogin; outcome: LoginOutcome }> {
    const time = this.options.clock();
    const token = newSessionToken();
    const expiresAt = time + this.options.sessionTtlMs;
    const recorded = await this.store.recordLogin({ user, tokenHash: hashToken(token), time, expiresAt });
    return { recorded, outcome: { user: recorded.user, token, expiresAt, registered: recorded.created } };
  }

  /** The caller behind `token`, or UNAUTHENTICATED saying how to get a valid one. */
  async authenticate(token: string | undefined): Promise<Caller> {
    if (!token) throw new ChatError('unauthenticated', `this call needs a session token: ${LOGIN_HINT}`);
    const found = await this.store.findSessionUser(hashToken(token));
    if (!found) throw new ChatError('unauthenticated', `this session token is unknown or has ended: ${LOGIN_HINT}`);
    const { session, user } = found;
    if (session.expiresAt <= this.options.clock()) {
      throw new ChatError('unauthenticated', `this session has expired: ${LOGIN_HINT}`);
    }
    if (user.disabled) throw new ChatError('unauthenticated', `this account can no longer log in: ${LOGIN_HINT}`);
    return { user: { id: user.id, name: user.name }, session: { tokenHash: session.tokenHash } };
  }

  /** Ends the caller's session: its token stops working. */
  async logout(caller: Caller): Promise<void> {
    const now = this.options.clock();
    await this.store.deleteSession(caller.session.tokenHash, 'logout', now);
    await this.store.touchUser(caller.user.id, now);
  }

  /**
   * Changes the caller's password after checking the current one, and ends
   * every other session of the user. Resolves with how many were ended.
   */
  async changePassword(caller: Caller, current: string, next: string): Promise<number> {
    const user = await this.store.findUserById(caller.user.id);
    if (!user?.passwordHash || !(await verifyPassword(current, user.passwordHash))) {
      throw new ChatError('permission-denied', 'the current password is wrong — the password was not changed');
    }
    checkNewPassword(next);
    await this.store.setPassword(user.id, await hashPassword(next, this.options.passwordCost));
    return this.store.deleteUserSessions(user.id, 'password-changed', this.options.clock(), caller.session.tokenHash);
  }

  /** The password hash for a name not registered yet, or the error that says why it cannot be registered. */
  private async hashForNewUser(name: string, password: string, register: boolean): Promise<string> {
    if (this.options.registration === 'closed') {
      throw new ChatError(
        'permission-denied',
        `there is no account named ${name} and this server does not let people register themselves — ask its operator to create one`,
      );
    }
    if (!register) {
      throw new ChatError(
        'not-found',
        `there is no account named ${name} — check the spelling, or log in without login_only to register it with this password`,
      );
    }
    checkNewPassword(password);
    return hashPassword(password, this.options.passwordCost);
  }

  private async claimPasswordless(user: UserRecord, password: string): Promise<void> {
    if (this.options.registration === 'closed') {
      throw new ChatError(
        'unauthenticated',
        `the account ${user.name} has no password yet — ask the server's operator to set one (tinychat user passwd ${user.name})`,
      );
    }
    checkNewPassword(password);
    const passwordHash = await hashPassword(password, this.options.passwordCost);
    await this.store.setPassword(user.id, passwordHash);
  }
}
