import { ChatError } from './errors';
import { nameKey, quoted, validateName } from './names';
import type { Store, UserRecord } from '../store/store';

/** The one store read a watch list needs. */
export type UserLookup = Pick<Store, 'findUsersByName'>;

/** The most people one stream may watch by name. */
export const MAX_WATCHED_USERS = 1000;

/** Names listed in one error at most; the rest are counted. */
const NAMES_PER_ERROR = 10;

/** A watch list checked against the store. */
export interface ResolvedWatchList {
  /** Name keys of the users to watch (known, valid names), or undefined when the whole list is refused. */
  keys: Set<string> | undefined;
  /** Users among them that `alreadyWatched` did not hold, with their records (for their current state). */
  added: UserRecord[];
  /** What to tell the client about names that were left out, or about the list. */
  errors: ChatError[];
}

/**
 * Checks the people a stream asks to watch: at most MAX_WATCHED_USERS
 * distinct names (else the whole list is refused with INVALID_ARGUMENT),
 * each a valid name (else INVALID_ARGUMENT naming it) of a registered user
 * (else NOT_FOUND naming it). Names are compared regardless of case. The
 * other names still apply. Names already in `alreadyWatched` (keys) are
 * known to exist and are not looked up again.
 */
export async function resolveWatchList(store: UserLookup, names: string[], alreadyWatched: ReadonlySet<string>): Promise<ResolvedWatchList> {
  const distinct = new Map<string, string>();
  for (const name of names) if (!distinct.has(nameKey(name))) distinct.set(nameKey(name), name);
  if (distinct.size > MAX_WATCHED_USERS) {
    const error = new ChatError(
      'invalid-argument',
      `cannot watch ${distinct.size} users: a stream watches at most ${MAX_WATCHED_USERS} — watch the people you show`,
    );
    return { keys: undefined, added: [], errors: [error] };
  }
  const keys = new Set<string>();
  const invalid: string[] = [];
  const toLookUp: string[] = [];
  for (const [key, name] of distinct) {
    try {
      validateName(name);
    } catch {
      invalid.push(name);
      continue;
    }
    if (alreadyWatched.has(key)) keys.add(key);
    else toLookUp.push(name);
  }
  // One read for all the new names, however many.
  const found = new Map((await store.findUsersByName(toLookUp)).map((user) => [nameKey(user.name), user]));
  const added: UserRecord[] = [];
  const unknown: string[] = [];
  for (const name of toLookUp) {
    const user = found.get(nameKey(name));
    if (!user) {
      unknown.push(name);
      continue;
    }
    keys.add(nameKey(name));
    added.push(user);
  }
  const errors: ChatError[] = [];
  if (invalid.length > 0) {
    errors.push(
      new ChatError(
        'invalid-argument',
        `cannot watch ${listed(invalid)}: not ${invalid.length === 1 ? 'a valid user name' : 'valid user names'} (1 to 32 letters, digits, "_", "." or "-"); the other names are watched`,
      ),
    );
  }
  if (unknown.length > 0) {
    errors.push(
      new ChatError('not-found', `no user named ${listed(unknown)} — check the spelling (/USERS lists everyone); the other names are watched`),
    );
  }
  return { keys, added, errors };
}

function listed(names: string[]): string {
  const shown = names.slice(0, NAMES_PER_ERROR).map(quoted).join(', ');
  return names.length > NAMES_PER_ERROR ? `${shown} and ${names.length - NAMES_PER_ERROR} more` : shown;
}
