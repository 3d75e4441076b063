import type { ChatError } from '../chat/errors';
import { nameKey } from '../chat/names';
import { resolveWatchList, type UserLookup } from '../chat/watch-list';
import type { OnlineRegistry, Subscriber } from '../queue/online-registry';
import { WATCH_NOBODY, type PresenceChange } from '../queue/presence-watchers';

/** Whose presence a client asks to be told: everyone, or the named users. */
export interface WatchRequest {
  everyone: boolean;
  users: string[];
}

/** What a stream's presence watch needs from the stream it belongs to. */
export interface WatchingStream {
  /** The stream as the registry knows it. */
  subscriber: Subscriber;
  /** Queues presence changes for the client (the current state of people entering the set). */
  sendPresence(changes: PresenceChange[]): void;
  /** Drops queued presence changes of anyone `watched` says no to. */
  keepPresence(watched: (user: string) => boolean): void;
  /** Answers the client with an error about its request; the stream stays open. */
  refuse(error: ChatError): void;
  /** The names could not be looked up: the stream ends. */
  failed(err: unknown): void;
  /** A lookup finished: a half-closed stream may now be done. */
  settled(): void;
  isClosed(): boolean;
}

/**
 * Whom one Converse stream watches, and the changes to it. Names are
 * checked and looked up first; meanwhile the old set stands and nobody new
 * is watched (a person's current state is sent once they are in the set, so
 * nothing is missed). Refused names are answered with errors; the others
 * apply. Requests can overlap: only the newest one's result is applied.
 */
export class PresenceWatch {
  /** Counts requests, so one whose lookups finish late cannot undo a newer one. */
  private generation = 0;
  /** Requests still looking up names: a half-closed stream answers them before it ends. */
  private inFlight = 0;

  constructor(
    private readonly registry: OnlineRegistry,
    private readonly users: UserLookup,
    private readonly stream: WatchingStream,
  ) {}

  /** True while a request is looking up names. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Replaces whom the stream watches with `request`. */
  async set(request: WatchRequest): Promise<void> {
    const generation = ++this.generation;
    const { registry, stream } = this;
    if (request.everyone) {
      registry.watchPresence(stream.subscriber, { everyone: true });
      return;
    }
    // Until the new list is checked, the old set stands: a list refused as a
    // whole leaves the stream watching what it watched before.
    const current = registry.watchSetOf(stream.subscriber);
    const alreadyWatched = current.everyone ? new Set<string>() : current.keys;
    if (request.users.length === 0) {
      this.apply(new Set());
      return;
    }
    let resolved;
    this.inFlight++;
    try {
      resolved = await resolveWatchList(this.users, request.users, alreadyWatched);
    } catch (err) {
      stream.failed(err);
      return;
    } finally {
      this.inFlight--;
    }
    // Anything sent below is written before the stream goes idle again; a
    // refused or stale request leaves nothing to wait for.
    queueMicrotask(() => stream.settled());
    if (stream.isClosed()) return;
    // What is wrong with a name stays true even when a newer request replaced this one.
    for (const error of resolved.errors) stream.refuse(error);
    if (!resolved.keys || generation !== this.generation) return;
    this.apply(resolved.keys);
    const now = Date.now();
    // A person with a change in the coming batch gets it from there, once.
    const entered = resolved.added
      .filter((user) => !registry.presencePending(user.name))
      .map((user): PresenceChange => {
        const online = registry.isOnline(user.id);
        return { user: user.name, online, time: online ? now : user.lastSeenAt };
      });
    if (entered.length > 0) stream.sendPresence(entered);
  }

  /** Watches exactly `keys` from now on, and drops waiting changes of anyone else. */
  private apply(keys: Set<string>): void {
    this.registry.watchPresence(this.stream.subscriber, keys.size === 0 ? WATCH_NOBODY : { everyone: false, keys });
    this.stream.keepPresence((user) => keys.has(nameKey(user)));
  }
}
