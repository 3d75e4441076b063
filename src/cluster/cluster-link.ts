import { randomBytes } from 'node:crypto';
import type { Bus, BusEvent, BusSubscription, JsonValue } from '../bus/bus';
import { connectBus } from '../bus/connect-bus';
import type { LoginThrottle, LoginOutcomeNote } from '../chat/login-throttle';
import type { Logger } from '../log';
import type { OnlineRegistry, RegistryObserver } from '../queue/online-registry';
import type { BoardUser } from '../queue/presence-board';
import type { AppendResult, Store, StoredMessage } from '../store/store';

/** Timings of the link; tests shorten them. */
export interface ClusterTimings {
  /** How often a node says it is alive, with its stream count. */
  heartbeatMs: number;
  /** A node not heard from for this long is taken for dead: its users go offline. */
  silentAfterMs: number;
  /** How often this node checks the store for messages its streams may have missed. */
  sweepMs: number;
}

export const DEFAULT_CLUSTER_TIMINGS: ClusterTimings = { heartbeatMs: 3000, silentAfterMs: 10_000, sweepMs: 2000 };

/** What the link needs of its node. */
export interface ClusterLinkOptions {
  bus: Bus;
  store: Store;
  registry: OnlineRegistry;
  logger: Logger;
  /** The node's name, for logs and other nodes. */
  nodeName: string;
  /** Reads the log of ended sessions now (another node ended one). */
  pollSessionEnds: () => Promise<void>;
  /** Failed logins count on every node. */
  throttle: LoginThrottle;
  timings?: Partial<ClusterTimings>;
}

/** Users per snapshot event, well under the bus's event size. */
const SNAPSHOT_PAGE = 500;

const NODES = 'nodes';
const SESSIONS = 'sessions';
const LOGINS = 'logins';
const userTopic = (userId: number) => `user.${userId}`;

/**
 * Joins this node to the others over the bus. The store is the truth; the
 * bus only carries news:
 *
 * - a message stored here goes to the topics of its receiver and sender, so
 *   a node holding their streams delivers it at once (each node listens to
 *   the topics of the users it holds); a room entry goes to each member's
 *   topic as that member's inbox entry;
 * - this node's stream counts per user, with a heartbeat, make presence and
 *   the streams-per-user limit cluster-wide; a node silent for
 *   `silentAfterMs` is dead, and its users go offline;
 * - ended sessions and failed logins, so every node acts on them.
 *
 * What the bus loses is found again: every `sweepMs`, and whenever the bus
 * connection comes back, the node reads from the store how far each of its
 * users' inboxes goes, and streams that have not seen that far read the rest
 * from the store. Streams skip what they already have, so nothing is shown
 * twice.
 */
export class ClusterLink implements RegistryObserver {
  /** This run of the node: a restarted node is a new member, whatever its name. */
  readonly nodeId: string;
  private readonly timings: ClusterTimings;
  private readonly userSubscriptions = new Map<number, BusSubscription>();
  private readonly subscriptions: BusSubscription[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private stopState: (() => void) | undefined;
  private wasDisconnected = false;
  private sweeping = false;
  private stopped = false;

  constructor(private readonly options: ClusterLinkOptions) {
    this.nodeId = `${options.nodeName}#${randomBytes(4).toString('hex')}`;
    this.timings = { ...DEFAULT_CLUSTER_TIMINGS, ...options.timings };
  }

  /** Starts listening and telling; other nodes learn of this one at once. */
  start(): void {
    const { bus, registry, throttle } = this.options;
    registry.observe(this);
    throttle.observe((note) => this.publish(LOGINS, { type: 'login', ...note }));
    this.subscriptions.push(
      bus.subscribe(NODES, (event) => this.onNodeEvent(event)),
      bus.subscribe(SESSIONS, (event) => {
        if (event.node !== this.nodeId) void this.options.pollSessionEnds();
      }),
      bus.subscribe(LOGINS, (event) => this.onLoginEvent(event)),
    );
    this.stopState = bus.onStateChange((state) => this.onBusState(state));
    this.timers.push(
      setInterval(() => this.heartbeat(), this.timings.heartbeatMs),
      setInterval(() => this.forgetSilentNodes(), Math.min(1000, this.timings.silentAfterMs / 4)),
      setInterval(() => void this.sweep(), this.timings.sweepMs),
    );
    for (const timer of this.timers) timer.unref();
    // Ask everyone for their picture, and give ours.
    this.publish(NODES, { type: 'sync-request', target: '*' });
    this.heartbeat();
  }

  /** Tells the others this node leaves, and stops. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.publish(NODES, { type: 'leaving' });
    for (const timer of this.timers) clearInterval(timer);
    this.stopState?.();
    for (const subscription of [...this.subscriptions, ...this.userSubscriptions.values()]) subscription.unsubscribe();
    this.userSubscriptions.clear();
    await this.options.bus.flush();
  }

  /** Another node should read the log of ended sessions now. */
  sessionEnded(): void {
    this.publish(SESSIONS, { type: 'ended' });
  }

  localStreams(user: BoardUser, streams: number): void {
    if (streams > 0 && !this.userSubscriptions.has(user.userId)) {
      this.userSubscriptions.set(
        user.userId,
        this.options.bus.subscribe(userTopic(user.userId), (event) => this.onUserEvent(user.userId, event)),
      );
    } else if (streams === 0) {
      this.userSubscriptions.get(user.userId)?.unsubscribe();
      this.userSubscriptions.delete(user.userId);
    }
    this.publish(NODES, { type: 'streams', userId: user.userId, name: user.name, streams });
  }

  stored(result: AppendResult): void {
    const message = result.message as unknown as JsonValue;
    this.publish(userTopic(result.message.receiverId), { type: 'stored', message });
    // A room entry is stored once per member, the sender's own included.
    if (result.message.senderId !== result.message.receiverId && result.message.room === undefined) {
      this.publish(userTopic(result.message.senderId), { type: 'stored', message });
    }
  }

  private publish(topic: string, event: BusEvent): void {
    if (this.stopped && event.type !== 'leaving') return;
    this.options.bus.publish(topic, { ...event, node: this.nodeId });
  }

  private onUserEvent(userId: number, event: BusEvent): void {
    if (event.node === this.nodeId || event.type !== 'stored' || !isStoredMessage(event.message)) return;
    this.options.registry.deliver(userId, event.message);
  }

  private onNodeEvent(event: BusEvent): void {
    const node = event.node;
    if (typeof node !== 'string' || node === this.nodeId) return;
    const { registry } = this.options;
    const board = registry.board;
    const now = Date.now();
    const known = board.nodes().includes(node);
    switch (event.type) {
      case 'streams':
        if (typeof event.userId === 'number' && typeof event.name === 'string' && typeof event.streams === 'number') {
          registry.applyPresence(board.setRemote(node, { userId: event.userId, name: event.name }, event.streams, now));
        }
        break;
      case 'heartbeat':
        board.heard(node, now);
        // A node whose count differs from what we know of it (we missed
        // events, or it is new to us) is asked for its whole picture.
        if (!known || board.remoteStreamTotal(node) !== event.streams) this.publish(NODES, { type: 'sync-request', target: node });
        break;
      case 'sync-request':
        if (event.target === '*' || event.target === this.nodeId) this.sendSnapshot();
        break;
      case 'snapshot':
        if (typeof event.page === 'number' && Array.isArray(event.users)) {
          const users = event.users.flatMap((entry) =>
            Array.isArray(entry) && typeof entry[0] === 'number' && typeof entry[1] === 'string' && typeof entry[2] === 'number'
              ? [{ userId: entry[0], name: entry[1], streams: entry[2] }]
              : [],
          );
          registry.applyPresence(board.replaceRemote(node, users, event.page === 0, now));
        }
        break;
      case 'leaving':
        this.options.logger.info('node-left', { node });
        registry.applyPresence(board.forget(node));
        return;
      default:
        return;
    }
    if (!known) this.options.logger.info('node-joined', { node });
  }

  private onLoginEvent(event: BusEvent): void {
    if (event.node === this.nodeId || event.type !== 'login') return;
    const { outcome, nameKey, address } = event;
    if ((outcome !== 'failed' && outcome !== 'succeeded') || typeof nameKey !== 'string') return;
    const note: LoginOutcomeNote = { outcome, nameKey, address: typeof address === 'string' ? address : undefined };
    this.options.throttle.apply(note);
  }

  private onBusState(state: string): void {
    if (state === 'disconnected') {
      this.wasDisconnected = true;
      this.options.logger.error('bus-disconnected', { bus: this.options.bus.description, hint: 'reconnecting; messages from other nodes arrive once it is back' });
    } else if (state === 'connected' && this.wasDisconnected) {
      this.wasDisconnected = false;
      this.options.logger.info('bus-reconnected', { bus: this.options.bus.description });
      // Whatever crossed the bus meanwhile may be lost: catch up from the store, and swap pictures.
      this.publish(NODES, { type: 'sync-request', target: '*' });
      this.sendSnapshot();
      void this.sweep();
    }
  }

  private heartbeat(): void {
    this.publish(NODES, { type: 'heartbeat', streams: this.options.registry.board.localStreamTotal() });
  }

  private sendSnapshot(): void {
    const users = this.options.registry.board.localUsers();
    const pages = Math.max(1, Math.ceil(users.length / SNAPSHOT_PAGE));
    for (let page = 0; page < pages; page++) {
      const slice = users.slice(page * SNAPSHOT_PAGE, (page + 1) * SNAPSHOT_PAGE).map((u) => [u.userId, u.name, u.streams]);
      this.publish(NODES, { type: 'snapshot', page, users: slice });
    }
  }

  private forgetSilentNodes(): void {
    const { registry, logger } = this.options;
    const { changes, nodes } = registry.board.forgetSilent(Date.now() - this.timings.silentAfterMs);
    for (const node of nodes) logger.info('node-silent', { node, hint: 'taken for dead; its users show offline until they reconnect' });
    registry.applyPresence(changes);
  }

  /** Nudges every local stream that is behind the store (a bus event was lost). */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    const users = this.options.registry.localUserIds();
    if (users.length === 0) return;
    this.sweeping = true;
    try {
      const heads = await this.options.store.lastSequences(users);
      for (const [userId, sequence] of heads) this.options.registry.nudge(userId, sequence);
    } catch (err) {
      this.options.logger.error('sweep-failed', { error: String(err) });
    } finally {
      this.sweeping = false;
    }
  }
}

/**
 * Tells running nodes to read the log of ended sessions now (an operator's
 * `tinychat user` with --bus); without it they find out within a second.
 */
export async function announceSessionEnds(busUrl: string): Promise<void> {
  const bus = await connectBus(busUrl);
  try {
    bus.publish(SESSIONS, { type: 'ended', node: 'operator' });
    await bus.flush();
  } finally {
    await bus.close();
  }
}

function isStoredMessage(value: JsonValue | undefined): value is JsonValue & StoredMessage {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const m = value as Record<string, JsonValue>;
  return (
    typeof m.id === 'number' &&
    typeof m.senderId === 'number' &&
    typeof m.receiverId === 'number' &&
    typeof m.sender === 'string' &&
    typeof m.receiver === 'string' &&
    typeof m.clientId === 'string' &&
    typeof m.body === 'string' &&
    typeof m.time === 'number' &&
    typeof m.sequence === 'number' &&
    (m.room === undefined || typeof m.room === 'string') &&
    (m.roomEvent === undefined || typeof m.roomEvent === 'string')
  );
}
