import { DEFAULT_NAMESPACE, type Bus, type BusEvent, type BusHandler, type BusOptions, type BusState, type BusSubscription } from './bus';
import { errorReporter, guarded, type BusErrorReporter } from './bus-errors';
import { BusStateKeeper } from './bus-state';
import { decodeEvent, encodeEvent } from './event-codec';
import { checkNamespace, subjectOf } from './topic';

/** One subscription as the hub sees it. */
interface Route {
  deliver(json: string): void;
}

/**
 * What a NATS server is to NatsBus, for buses in one process: InProcessBus
 * handles sharing one hub behave like nodes sharing one NATS server (tests
 * of several nodes use that). Events are queued and delivered from a later
 * turn of the event loop, in the order they were sent, to the routes that
 * existed when they were sent.
 */
export class InProcessHub {
  private readonly routes = new Map<string, Set<Route>>();
  private queue: Array<{ json: string; routes: Route[] }> = [];
  private scheduled = false;

  /** Routes events sent to `subject` to `route`, until removed. */
  add(subject: string, route: Route): void {
    let set = this.routes.get(subject);
    if (!set) {
      set = new Set();
      this.routes.set(subject, set);
    }
    set.add(route);
  }

  remove(subject: string, route: Route): void {
    const set = this.routes.get(subject);
    if (!set) return;
    set.delete(route);
    if (set.size === 0) this.routes.delete(subject);
  }

  /** Queues `json` for every route of `subject` as of now. */
  send(subject: string, json: string): void {
    const set = this.routes.get(subject);
    if (!set) return;
    this.queue.push({ json, routes: [...set] });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    // Events that handlers publish now wait for the next turn, so a chatty
    // handler cannot starve the rest of the process.
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    for (const { json, routes } of batch) {
      for (const route of routes) route.deliver(json);
    }
  }
}

/** Options of an InProcessBus. */
export interface InProcessBusOptions extends BusOptions {
  /** The hub to share with other buses ("nodes"); a new one of its own when absent. */
  hub?: InProcessHub;
}

/**
 * The bus of a single node, or of several "nodes" in one process that share
 * a hub. It keeps the whole contract of bus.ts — JSON copies, asynchronous
 * delivery, namespaces — so code tested against it behaves the same on NATS.
 * It is always 'connected' until closed.
 */
export class InProcessBus implements Bus {
  readonly description = 'in-process';
  private readonly hub: InProcessHub;
  private readonly namespace: string;
  private readonly report: BusErrorReporter;
  private readonly stateKeeper: BusStateKeeper;
  private readonly subscriptions = new Set<{ subject: string; route: Route; stop(): void }>();

  constructor(options: InProcessBusOptions = {}) {
    this.hub = options.hub ?? new InProcessHub();
    this.namespace = options.namespace ?? DEFAULT_NAMESPACE;
    checkNamespace(this.namespace);
    this.report = errorReporter(options);
    this.stateKeeper = new BusStateKeeper('connected', this.report);
  }

  get state(): BusState {
    return this.stateKeeper.state;
  }

  publish(topic: string, event: BusEvent): void {
    const subject = subjectOf(this.namespace, topic);
    const json = encodeEvent(topic, event);
    if (this.state === 'closed') return;
    this.hub.send(subject, json);
  }

  subscribe(topic: string, handler: BusHandler): BusSubscription {
    const subject = subjectOf(this.namespace, topic);
    if (this.state === 'closed') return { unsubscribe() {} };
    let active = true;
    const report = this.report;
    const route: Route = {
      deliver(json) {
        if (active) guarded(report, topic, () => handler(decodeEvent(json)));
      },
    };
    const entry = {
      subject,
      route,
      stop: () => {
        active = false;
        this.hub.remove(subject, route);
        this.subscriptions.delete(entry);
      },
    };
    this.subscriptions.add(entry);
    this.hub.add(subject, route);
    return { unsubscribe: () => entry.stop() };
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  onStateChange(listener: (state: BusState) => void): () => void {
    return this.stateKeeper.listen(listener);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    for (const entry of [...this.subscriptions]) entry.stop();
    this.stateKeeper.set('closed');
  }
}
