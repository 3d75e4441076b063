import { nameKey } from '../chat/names';

/** A user coming online or going offline. */
export interface PresenceChange {
  user: string;
  online: boolean;
  time: number;
}

/** What one stream watches: every user, or the users with these name keys (chat/names.ts `nameKey`). */
export type WatchSet = { everyone: true } | { everyone: false; keys: ReadonlySet<string> };

/** A stream that watches nobody. */
export const WATCH_NOBODY: WatchSet = { everyone: false, keys: new Set() };

/**
 * Which streams watch whose presence, indexed by person, so that a change of
 * one user reaches only the streams that show that user (plus the streams
 * that watch everyone). Routing a batch of changes costs the number of
 * (change, watcher) pairs that are actually delivered, not changes × streams.
 */
export class PresenceWatchers<W> {
  private readonly byUser = new Map<string, Set<W>>();
  private readonly everyone = new Set<W>();
  private readonly sets = new Map<W, WatchSet>();

  /** Number of streams that watch someone or everyone. */
  get size(): number {
    return this.sets.size;
  }

  /** What `watcher` watches now (nobody when unknown). */
  watchSetOf(watcher: W): WatchSet {
    return this.sets.get(watcher) ?? WATCH_NOBODY;
  }

  /**
   * Replaces what `watcher` watches. Who entered the set is the caller's to
   * work out (session/presence-watch.ts), from the names it looked up.
   */
  set(watcher: W, next: WatchSet): void {
    this.remove(watcher);
    if (next.everyone) {
      this.everyone.add(watcher);
      this.sets.set(watcher, next);
      return;
    }
    if (next.keys.size === 0) return;
    for (const key of next.keys) {
      let watchers = this.byUser.get(key);
      if (!watchers) {
        watchers = new Set();
        this.byUser.set(key, watchers);
      }
      watchers.add(watcher);
    }
    this.sets.set(watcher, next);
  }

  /** Forgets `watcher`; returns what it watched. */
  remove(watcher: W): WatchSet {
    const previous = this.sets.get(watcher);
    if (!previous) return WATCH_NOBODY;
    this.sets.delete(watcher);
    if (previous.everyone) {
      this.everyone.delete(watcher);
      return previous;
    }
    for (const key of previous.keys) {
      const watchers = this.byUser.get(key);
      if (!watchers) continue;
      watchers.delete(watcher);
      if (watchers.size === 0) this.byUser.delete(key);
    }
    return previous;
  }

  /**
   * Groups a batch of changes by the streams that watch them, each stream's
   * changes in the batch's order.
   */
  route(changes: Iterable<PresenceChange>): Map<W, PresenceChange[]> {
    const out = new Map<W, PresenceChange[]>();
    const add = (watcher: W, change: PresenceChange) => {
      const list = out.get(watcher);
      if (list) list.push(change);
      else out.set(watcher, [change]);
    };
    const all = [...changes];
    if (this.everyone.size > 0) {
      // One shared array for the everyone-watchers: they all get the whole batch.
      for (const watcher of this.everyone) out.set(watcher, all);
    }
    for (const change of all) {
      const watchers = this.byUser.get(nameKey(change.user));
      if (!watchers) continue;
      for (const watcher of watchers) add(watcher, change);
    }
    return out;
  }
}
