import { nameKey } from '../chat/names';

/**
 * The people whose presence a client wants to hear about: the names it
 * shows. The server is told the whole set on every (re)connect and again
 * whenever it changes; `replace` says whether it did, so a client that
 * recomputes the set on every redraw sends nothing when it is the same.
 * Names are compared regardless of case, as the server does.
 */
export class PresenceInterest {
  private readonly byKey = new Map<string, string>();

  constructor(names: Iterable<string> = []) {
    this.replace(names);
  }

  /** The names, each once, in the order first given. */
  get names(): string[] {
    return [...this.byKey.values()];
  }

  /** True when `name` is in the set. */
  has(name: string): boolean {
    return this.byKey.has(nameKey(name));
  }

  /** Makes `names` the set; true when that changed who is in it. */
  replace(names: Iterable<string>): boolean {
    const next = new Map<string, string>();
    for (const name of names) if (name !== '' && !next.has(nameKey(name))) next.set(nameKey(name), name);
    const same = next.size === this.byKey.size && [...next.keys()].every((key) => this.byKey.has(key));
    if (same) return false;
    this.byKey.clear();
    for (const [key, name] of next) this.byKey.set(key, name);
    return true;
  }
}
