import os from 'node:os';
// @nats-io/transport-node is the v3 NATS client for Node, which supersedes the
// `nats` package (v2, now only maintained): it follows strict semver and
// brings only the core client (no JetStream code), which is all a bus of
// notices needs. Pinned to 3.3.x: 3.4 depends on a module that declares
// Node >= 22, and TinyChat runs on Node 20.
import { connect } from '@nats-io/transport-node';
// Its types live in @nats-io/nats-core behind a package "exports" subpath,
// which this project's module resolution ("node") does not read; the file
// itself is the same, and a type import leaves nothing at run time.
import type { NatsConnection, Subscription } from '@nats-io/nats-core/lib/core';
import { DEFAULT_NAMESPACE, type Bus, type BusEvent, type BusHandler, type BusOptions, type BusState, type BusSubscription } from './bus';
import { errorReporter, guarded, type BusErrorReporter } from './bus-errors';
import { BusStateKeeper } from './bus-state';
import { decodeEvent, encodeEvent } from './event-codec';
import { checkNamespace, subjectOf } from './topic';

/** Options of a NatsBus. */
export interface NatsBusOptions extends BusOptions {
  /** Wait between reconnect attempts, in ms (plus up to half of it at random, so nodes do not all knock at once). Default 500. */
  reconnectWaitMs?: number;
  /** How long the first connection may take before connectNatsBus rejects, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /** The client name the NATS server's monitoring shows. Default tinychat-HOST-PID. */
  name?: string;
}

const DEFAULT_RECONNECT_WAIT_MS = 500;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/**
 * A server that stops answering (hung, or a dead peer behind a firewall) is
 * noticed after about PING_INTERVAL_MS × MAX_PINGS_OUT, far sooner than the
 * client's default of minutes, so the node starts catching up soon.
 */
const PING_INTERVAL_MS = 10_000;
const MAX_PINGS_OUT = 2;
/** close() waits this long at most for earlier publishes to reach the server. */
const CLOSE_FLUSH_MS = 2000;

/** Where a nats:// URL points, and what of it may be shown. */
interface NatsTarget {
  server: string;
  /** The URL without credentials. */
  description: string;
  user?: string;
  pass?: string;
  /** The URL's path, when it has one: the namespace (several clusters on one NATS). */
  namespace?: string;
}

function parseNatsUrl(url: string): NatsTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('the bus URL is not a valid URL: give nats://HOST:PORT, for example nats://127.0.0.1:4222');
  }
  if (parsed.protocol !== 'nats:' || !parsed.hostname) {
    throw new Error(`the bus URL must look like nats://HOST:PORT (got a ${parsed.protocol} URL)`);
  }
  const server = `nats://${parsed.hostname}:${parsed.port || '4222'}`;
  const path = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, ''));
  return {
    server,
    description: path ? `${server}/${path}` : server,
    namespace: path || undefined,
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    pass: parsed.password ? decodeURIComponent(parsed.password) : undefined,
  };
}

/**
 * Connects to the NATS server at `url` (nats://[USER:PASS@]HOST[:PORT][/NAMESPACE];
 * a namespace in the path wins over options.namespace) and resolves with a
 * 'connected' bus. Rejects, saying so in a sentence, when
 * the server cannot be reached now; once connected, the bus reconnects by
 * itself forever.
 */
export async function connectNatsBus(url: string, options: NatsBusOptions = {}): Promise<NatsBus> {
  const target = parseNatsUrl(url);
  const namespace = target.namespace ?? options.namespace ?? DEFAULT_NAMESPACE;
  checkNamespace(namespace);
  const reconnectWait = options.reconnectWaitMs ?? DEFAULT_RECONNECT_WAIT_MS;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: target.server,
      user: target.user,
      pass: target.pass,
      name: options.name ?? `tinychat-${os.hostname()}-${process.pid}`,
      timeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: reconnectWait,
      reconnectJitter: Math.ceil(reconnectWait / 2),
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: MAX_PINGS_OUT,
    });
  } catch (err) {
    throw new Error(`cannot reach the bus at ${target.description} — is nats-server running? (${(err as Error).message})`);
  }
  return new NatsBus(nc, target.description, namespace, errorReporter(options));
}

/** One subscribe() call: the NATS subscription and whether its handler may still run. */
interface Entry {
  active: boolean;
  subscription: Subscription;
}

/**
 * The bus on a NATS server, one connection per node; see bus.ts for the
 * contract. Events are JSON text on the subject `<namespace>.<topic>`.
 * Made by connectNatsBus.
 */
export class NatsBus implements Bus {
  private readonly stateKeeper: BusStateKeeper;
  private readonly entries = new Set<Entry>();
  private readonly statusWatch: Promise<void>;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    readonly description: string,
    private readonly namespace: string,
    private readonly report: BusErrorReporter,
  ) {
    this.stateKeeper = new BusStateKeeper('connected', report);
    this.statusWatch = this.watchStatus().catch((err: unknown) => report(err));
    void nc.closed().then((err) => {
      if (this.closing) return;
      // The client gave up for good (it never does for a lost connection,
      // only for errors such as refused credentials): say why.
      this.report(new Error(`the connection to the bus at ${description} ended: ${err ? err.message : 'closed'}`));
      for (const entry of this.entries) entry.active = false;
      this.stateKeeper.set('closed');
    });
  }

  get state(): BusState {
    return this.stateKeeper.state;
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
        case 'reconnecting':
        case 'staleConnection':
          this.stateKeeper.set('disconnected');
          break;
        case 'reconnect':
          // The client has sent our subscriptions again before saying so.
          this.stateKeeper.set('connected');
          break;
        case 'error':
          this.report(status.error);
          break;
        default:
          break;
      }
    }
  }

  publish(topic: string, event: BusEvent): void {
    const subject = subjectOf(this.namespace, topic);
    const json = encodeEvent(topic, event);
    // While disconnected the event is dropped here rather than buffered: the
    // client would discard its buffer on reconnecting anyway, and nodes catch
    // up from the store.
    if (this.state !== 'connected') return;
    try {
      this.nc.publish(subject, json);
    } catch (err) {
      // Only the connection's state or the server's own limits get here;
      // neither is the caller's to handle.
      this.report(err, topic);
    }
  }

  subscribe(topic: string, handler: BusHandler): BusSubscription {
    const subject = subjectOf(this.namespace, topic);
    if (this.state === 'closed') return { unsubscribe() {} };
    const report = this.report;
    const entry: Entry = {
      active: true,
      subscription: this.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (!entry.active) return;
          if (err) {
            report(err, topic);
            return;
          }
          let event: BusEvent;
          try {
            event = decodeEvent(msg.string());
          } catch (decodeError) {
            report(decodeError, topic);
            return;
          }
          guarded(report, topic, () => handler(event));
        },
      }),
    };
    this.entries.add(entry);
    return { unsubscribe: () => this.stop(entry) };
  }

  private stop(entry: Entry): void {
    if (!entry.active) return;
    entry.active = false;
    this.entries.delete(entry);
    try {
      entry.subscription.unsubscribe();
    } catch {
      // The connection is closed: so is the subscription.
    }
  }

  async flush(): Promise<void> {
    if (this.state !== 'connected') return;
    try {
      await this.nc.flush();
    } catch {
      // The connection dropped before the server answered: see the contract.
    }
  }

  onStateChange(listener: (state: BusState) => void): () => void {
    return this.stateKeeper.listen(listener);
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    for (const entry of [...this.entries]) this.stop(entry);
    const wasConnected = this.state === 'connected';
    this.stateKeeper.set('closed');
    // Give what was published before close() a moment to reach the server;
    // a server that is down gets no wait at all.
    if (wasConnected) await withinMs(this.nc.flush().catch(() => undefined), CLOSE_FLUSH_MS);
    await this.nc.close();
    await this.statusWatch;
  }
}

/** Resolves when `promise` settles or after `ms`, whichever comes first, leaving no timer behind. */
async function withinMs(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
