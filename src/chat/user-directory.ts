import { ChatError } from './errors';
import { nameKey, quoted, validateName } from './names';
import type { Store } from '../store/store';

/** A user as far as addressing a message needs: id and registered spelling. */
export interface UserRef {
  id: number;
  name: string;
}

/**
 * Resolves user names to ids without a database read per message. Users are
 * never renamed or deleted today, so an entry stays valid once cached; when
 * deletion arrives, it must call `forget`.
 */
export class UserDirectory {
  private readonly byKey = new Map<string, UserRef>();

  constructor(private readonly store: Store) {}

  /** The user with this name (any case); INVALID_ARGUMENT for a malformed name, NOT_FOUND with a hint. */
  async resolve(name: string): Promise<UserRef> {
    validateName(name);
    const key = nameKey(name);
    const cached = this.byKey.get(key);
    if (cached) return cached;
    const user = await this.store.findUserByName(name);
    if (!user) {
      throw new ChatError('not-found', `no user named ${quoted(name)} has ever logged in — /USERS lists everyone who has`);
    }
    const ref = { id: user.id, name: user.name };
    this.byKey.set(key, ref);
    return ref;
  }

  /** Drops a cached name (for when a user is removed). */
  forget(name: string): void {
    this.byKey.delete(nameKey(name));
  }
}
