import { OutboundQueue, type QueueReader } from './outbound-queue';
import { PresenceBoard, type BoardChange, type BoardUser } from './presence-board';
import { PresenceWatchers, type PresenceChange, type WatchSet } from './presence-watchers';
import type { ChatError } from '../chat/errors';
import { nameKey } from '../chat/names';
import type { OnlineDirectory } from '../chat/online';
import type { RoomAppendResult } from '../store/room-store';
import type { AppendResult, StoredMessage } from '../store/store';

/** A live stream as the registry sees it: a queue reader that can be closed. */
export interface Subscriber extends QueueReader {
  readonly userId: number;
  readonly userName: string;
  /** The session the stream was opened with (ended by /QUIT). */
  readonly tokenHash: string;
  /** Ends the stream: with OK when `error` is absent, else with its status. */
  close(error?: ChatError): void;
  /**
   * Presence changes of people this stream watches. They bypass the user's
   * shared queue: they are this stream's alone, and must not count against
   * the queue limit of the user's other streams.
   */
  presence(changes: PresenceChange[]): void;
}

/**
 * Presence changes are gathered for this long and sent to each watcher as
 * one delivery: when many users connect at once (a server restart), each
 * watcher gets a few frames instead of one per user.
 */
export const PRESENCE_BATCH_MS = 50;

/** Default bound of a user's outbound queue, in deliveries. */
export const DEFAULT_QUEUE_LIMIT = 4096;

/**
 * Told of what other server nodes must hear: this node's stream count of a
 * user changed, a message was stored here. (cluster/ implements it over the bus.)
 */
export interface RegistryObserver {
  localStreams(user: BoardUser, streams: number): void;
  stored(result: AppendResult): void;
}

/**
 * Who is online, and each user's outbound queue on this node. A user is
 * online while at least one of their streams is attached, here or on another
 * node (the PresenceBoard keeps both); the user's first stream anywhere and
 * their last are presence changes, sent in batches to the streams here that
 * watch that user (PresenceWatchers) or everyone.
 * Messages stored on other nodes arrive through `deliver`.
 */
export class OnlineRegistry implements OnlineDirectory {
  /** Who is online where; the cluster link feeds it what other nodes say. */
  readonly board = new PresenceBoard();
  private readonly queues = new Map<number, OutboundQueue>();
  private readonly subscribers = new Set<Subscriber>();
  private observer: RegistryObserver | undefined;
  /** Which streams watch whose presence. */
  private readonly watchers = new PresenceWatchers<Subscriber>();
  /** Changes waiting for the next presence batch, by name key: the latest one wins. */
  private readonly pendingPresence = new Map<string, PresenceChange>();
  private presenceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly queueLimit = DEFAULT_QUEUE_LIMIT,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Number of open streams. */
  get streamCount(): number {
    return this.subscribers.size;
  }

  /** Sets the one observer (the cluster link). */
  observe(observer: RegistryObserver): void {
    this.observer = observer;
  }

  /** Attaches a stream; returns the user's queue. Announces the user when this is their first stream anywhere. */
  attach(subscriber: Subscriber): OutboundQueue {
    let queue = this.queues.get(subscriber.userId);
    if (!queue) {
      queue = new OutboundQueue(subscriber.userId, this.queueLimit);
      this.queues.set(subscriber.userId, queue);
    }
    queue.attach(subscriber);
    this.subscribers.add(subscriber);
    // Every stream watches everyone until its first frame says otherwise, so
    // a client that watches everyone loses no change between the greeting
    // and its resume (a narrower watch set drops the rest).
    this.watchers.set(subscriber, { everyone: true });
    this.setLocalStreams(subscriber, this.board.localStreamsOf(subscriber.userId) + 1);
    return queue;
  }

  /**
   * Detaches a stream. Returns true when it was the user's last one on this
   * node (announced as offline unless another node holds a stream of theirs).
   */
  detach(subscriber: Subscriber): boolean {
    if (!this.subscribers.delete(subscriber)) return false;
    this.watchers.remove(subscriber);
    this.queues.get(subscriber.userId)?.detach(subscriber);
    const remaining = this.board.localStreamsOf(subscriber.userId) - 1;
    if (remaining <= 0) this.queues.delete(subscriber.userId);
    this.setLocalStreams(subscriber, remaining);
    return remaining <= 0;
  }

  private setLocalStreams(subscriber: Subscriber, streams: number): void {
    const user = { userId: subscriber.userId, name: subscriber.userName };
    this.applyPresence(this.board.setLocal(user, Math.max(0, streams)));
    this.observer?.localStreams(user, Math.max(0, streams));
  }

  /** Announces cluster-wide presence changes (from the board) to every watcher. */
  applyPresence(changes: BoardChange[]): void {
    const time = this.clock();
    for (const change of changes) this.announce({ user: change.name, online: change.online, time });
  }

  /** The depth of each outbound queue on this node, in deliveries (for metrics). */
  *queueDepths(): Iterable<number> {
    for (const queue of this.queues.values()) yield queue.length;
  }

  /** Users with a stream on this node. */
  localUserIds(): number[] {
    return [...this.queues.keys()];
  }

  /**
   * Delivers a message stored by another node to `userId`'s streams here: as
   * an inbox message to its receiver, as a copy to its sender. Streams skip
   * what they already have and read any gap from the store.
   */
  deliver(userId: number, message: StoredMessage): void {
    const queue = this.queues.get(userId);
    if (!queue) return;
    if (message.receiverId === userId) queue.push({ kind: 'message', message });
    // A room entry reaches its sender through their own inbox entry.
    else if (message.senderId === userId && message.room === undefined) queue.push({ kind: 'copy', message });
  }

  /**
   * Tells the user's streams here that the store holds their inbox up to
   * `sequence`; a stream that has not seen that far reads the rest from the
   * store (a bus event was missed).
   */
  nudge(userId: number, sequence: number): void {
    const queue = this.queues.get(userId);
    if (queue && sequence > queue.lastSequence) queue.push({ kind: 'behind', sequence });
  }

  /**
   * Replaces what presence a stream is told about; changes come through
   * `Subscriber.presence`. The current state of people entering the set is
   * the caller's to send (session/presence-watch.ts).
   */
  watchPresence(subscriber: Subscriber, watch: WatchSet): void {
    if (this.subscribers.has(subscriber)) this.watchers.set(subscriber, watch);
  }

  /**
   * True when a change of this user waits for the next batch: it is their
   * current state, and reaches every stream watching them by then.
   */
  presencePending(name: string): boolean {
    return this.pendingPresence.has(nameKey(name));
  }

  /** What a stream watches now. */
  watchSetOf(subscriber: Subscriber): WatchSet {
    return this.watchers.watchSetOf(subscriber);
  }

  /** How many streams the user has open, on every node. */
  streamsOf(userId: number): number {
    return this.board.streamsOf(userId);
  }

  /** True while the user has a stream attached, on any node. */
  isOnline(userId: number): boolean {
    return this.board.isOnline(userId);
  }

  /**
   * Routes a stored message: to the receiver's queue (when online), with a
   * copy for the sender's other streams. A duplicate was routed when first
   * stored. (The receipt is the sending stream's own business.)
   */
  route(result: AppendResult, origin: Subscriber): void {
    if (result.duplicate) return;
    this.queues.get(result.message.receiverId)?.push({ kind: 'message', message: result.message });
    const senderQueue = this.queues.get(origin.userId);
    if (senderQueue && senderQueue.readerCount > 1 && result.message.receiverId !== origin.userId) {
      senderQueue.push({ kind: 'copy', message: result.message, origin });
    }
    this.observer?.stored(result);
  }

  /**
   * Routes a written room entry: each member's inbox entry to their queue
   * here and to the other nodes. A duplicate was routed when first stored.
   */
  routeRoom(result: RoomAppendResult): void {
    if (result.duplicate) return;
    for (const message of result.deliveries) {
      this.queues.get(message.receiverId)?.push({ kind: 'message', message });
      this.observer?.stored({ message, duplicate: false });
    }
  }

  /** Ends every stream of one session: with OK after /QUIT, else with `reason`. */
  endSession(tokenHash: string, reason?: ChatError): void {
    for (const subscriber of [...this.subscribers]) {
      if (subscriber.tokenHash === tokenHash) subscriber.close(reason);
    }
  }

  /** Ends every stream of the user except those of one session, with `reason` (OK when absent). */
  endUserSessions(userId: number, keepTokenHash: string | undefined, reason?: ChatError): void {
    for (const subscriber of [...this.subscribers]) {
      if (subscriber.userId === userId && subscriber.tokenHash !== keepTokenHash) subscriber.close(reason);
    }
  }

  /** Ends every stream with `error` (at shutdown). */
  closeAll(error: ChatError): void {
    clearTimeout(this.presenceTimer);
    this.presenceTimer = undefined;
    this.pendingPresence.clear();
    for (const subscriber of [...this.subscribers]) subscriber.close(error);
  }

  private announce(change: PresenceChange): void {
    // Someone who came and went within one batch is reported by their last change only.
    this.pendingPresence.delete(nameKey(change.user));
    this.pendingPresence.set(nameKey(change.user), change);
    this.presenceTimer ??= setTimeout(() => this.flushPresence(), PRESENCE_BATCH_MS);
  }

  private flushPresence(): void {
    this.presenceTimer = undefined;
    const routed = this.watchers.route(this.pendingPresence.values());
    this.pendingPresence.clear();
    for (const [subscriber, changes] of routed) subscriber.presence(changes);
  }
}
