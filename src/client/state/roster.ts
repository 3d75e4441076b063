import { nameKey } from '../../chat/names';

/** One user as the client knows them. */
export interface Person {
  /** The registered spelling. */
  name: string;
  online: boolean;
  /** When they were last connected; now while online. */
  lastSeen: Date | undefined;
}

/** What /USERS and presence events say about a user. */
export interface PersonUpdate {
  name: string;
  online: boolean;
  lastSeen?: Date;
}

/**
 * Every known user with online/offline, filled from /USERS and kept current
 * by presence events — of the people the client watches; the others are as
 * /USERS last said (`listedAt`). Names are unique regardless of case.
 */
export class Roster {
  private readonly people = new Map<string, Person>();
  /** When the last /USERS answer was taken; undefined before any. */
  listedAt: Date | undefined;

  /** Replaces everything with a /USERS answer, taken at `now`. */
  replace(users: readonly PersonUpdate[], now = new Date()): void {
    this.listedAt = now;
    this.people.clear();
    for (const user of users) this.people.set(nameKey(user.name), { name: user.name, online: user.online, lastSeen: user.lastSeen });
  }

  /** Records one presence change (adding the user if new); true when something changed. */
  update(change: PersonUpdate): boolean {
    const key = nameKey(change.name);
    const known = this.people.get(key);
    if (known && known.online === change.online && known.name === change.name) {
      known.lastSeen = change.lastSeen ?? known.lastSeen;
      return false;
    }
    this.people.set(key, { name: change.name, online: change.online, lastSeen: change.lastSeen ?? known?.lastSeen });
    return true;
  }

  /** The user with this name in any case, if known. */
  get(name: string): Person | undefined {
    return this.people.get(nameKey(name));
  }

  /** Everyone: online first, then by name. */
  list(): Person[] {
    return [...this.people.values()].sort((a, b) => Number(b.online) - Number(a.online) || nameKey(a.name).localeCompare(nameKey(b.name)));
  }

  /** Every name, in the registered spelling. */
  names(): string[] {
    return [...this.people.values()].map((person) => person.name);
  }

  /** How many are online. */
  get onlineCount(): number {
    let count = 0;
    for (const person of this.people.values()) if (person.online) count += 1;
    return count;
  }

  get size(): number {
    return this.people.size;
  }
}
