import { checkNewPassword, DEFAULT_PASSWORD_COST, hashPassword } from '../chat/passwords';
import { validateName } from '../chat/names';
import { dateTime } from '../chat/text';
import type { Store } from '../store/store';

/**
 * What an operator does to accounts from the command line (`tinychat user`),
 * directly on the server's database. Returns the line to print; throws an
 * Error whose message says what to do.
 */
export class UserAdmin {
  constructor(
    private readonly store: Store,
    private readonly passwordCost = DEFAULT_PASSWORD_COST,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Creates an account with a password. */
  async add(name: string, password: string): Promise<string> {
    validateName(name);
    checkNewPassword(password);
    const hash = await hashPassword(password, this.passwordCost);
    const { user, created } = await this.store.registerUser(name, this.clock(), hash);
    if (!created) throw new Error(`an account named ${user.name} already exists — use \`tinychat user passwd ${user.name}\` to set its password`);
    return `created ${user.name}`;
  }

  /** Sets a new password, re-enables the account and ends its sessions. */
  async passwd(name: string, password: string): Promise<string> {
    const user = await this.find(name);
    checkNewPassword(password);
    await this.store.setPassword(user.id, await hashPassword(password, this.passwordCost));
    await this.store.setUserDisabled(user.id, false);
    const ended = await this.store.deleteUserSessions(user.id, 'password-reset', this.clock());
    return `password of ${user.name} set; ${ended} session(s) ended`;
  }

  /** Disables an account: it cannot log in and its sessions end; its messages stay. */
  async del(name: string): Promise<string> {
    const user = await this.find(name);
    await this.store.setUserDisabled(user.id, true);
    const ended = await this.store.deleteUserSessions(user.id, 'disabled', this.clock());
    return `disabled ${user.name}; ${ended} session(s) ended (its messages stay; \`tinychat user passwd ${user.name}\` re-enables it)`;
  }

  /** Every account with its state. */
  async list(): Promise<string> {
    const users = await this.store.listUsers();
    if (users.length === 0) return 'no accounts yet';
    const width = Math.max(4, ...users.map((u) => u.name.length));
    const rows = users.map((u) => {
      const state = u.disabled ? 'disabled' : u.passwordHash === null ? 'no password' : 'active';
      return `${u.name.padEnd(width)}  ${state.padEnd(11)}  last seen ${dateTime(u.lastSeenAt)}`;
    });
    return [`${'NAME'.padEnd(width)}  ${'STATE'.padEnd(11)}  LAST SEEN`, ...rows].join('\n');
  }

  private async find(name: string) {
    const user = await this.store.findUserByName(name);
    if (!user) throw new Error(`there is no account named ${name} — \`tinychat user list\` shows them`);
    return user;
  }
}
