/**
 * The bus between server nodes: it wakes nodes up and may carry copies of
 * small events ("a message was stored for user 42 with sequence 17",
 * "session X ended", "user 7 came online on node B"). The store is the
 * truth; a node that misses bus traffic catches up from the store. So the
 * bus promises little, and says exactly what.
 *
 * The contract, checked for every implementation by
 * test/contract/bus-contract.ts:
 *
 * - Delivery: an event published to a topic reaches every subscription to
 *   exactly that topic (no wildcards) on every bus of the same namespace —
 *   this node's and other nodes' — that exists when the event reaches the bus
 *   server. A subscription made by this bus is in effect for this bus's later
 *   publishes at once; for other nodes' publishes once it reached the bus
 *   server (after `flush()` resolves it surely has).
 * - At most once: an event is delivered to a subscription once or not at all.
 *   Events published while the connection is down, or in flight when it
 *   drops, may be lost without an error; `onStateChange` says when that can
 *   have happened, so the node can catch up from the store on 'connected'.
 * - Isolation: a subscription never gets an event of another topic, nor of
 *   another namespace (see topic.ts).
 * - Order: events from one bus to one topic arrive at each subscription in
 *   publish order (some may be missing, none reordered or repeated).
 * - Asynchrony: handlers are never called inside `publish()` or `subscribe()`;
 *   events cross the bus as JSON, so each handler call gets its own fresh
 *   copy (a handler may mutate it; the publisher may reuse its object).
 * - Errors: a handler or state listener that throws does not stop delivery
 *   to anyone, itself included; its error goes to `BusOptions.onError`.
 *   `publish()` and `subscribe()` throw only for programming errors (an
 *   invalid topic, an event that is not a JSON object or is too large),
 *   never for the state of the connection.
 * - Stopping: once `unsubscribe()` returns, that handler is never called
 *   again, not even for events already on their way; unsubscribing twice is
 *   harmless. Once `close()` is called no handler or listener is called
 *   again (except listeners hearing 'closed', once); afterwards `publish()`
 *   drops the event and `subscribe()` returns a subscription that never
 *   fires — a node shutting down may still have work in flight that
 *   publishes, and that must not fail. `close()` may be called more than
 *   once.
 * - State: 'connected' when the bus is usable, 'disconnected' while the
 *   connection to the bus server is down (the bus keeps trying to reconnect,
 *   forever), 'closed' after `close()`, for good. (A bus whose client gives
 *   up for a reason other than a lost connection — refused credentials —
 *   also ends 'closed', and says why through onError.)
 */

/** A JSON value: what survives a trip through JSON.stringify and JSON.parse unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * An event on the bus: a JSON object, small (at most MAX_EVENT_BYTES as JSON).
 * Handlers should check its shape: it may come from a node running another
 * version.
 */
export type BusEvent = { [key: string]: JsonValue };

/** The largest event, in bytes of its JSON text; the bus carries notices, not payloads. */
export const MAX_EVENT_BYTES = 64 * 1024;

/** 'connected': usable; 'disconnected': reconnecting, events may be lost; 'closed': after close(), for good. */
export type BusState = 'connected' | 'disconnected' | 'closed';

/** One call to subscribe(). */
export interface BusSubscription {
  /** Stops delivery to this handler: once it returns, the handler is never called again. */
  unsubscribe(): void;
}

/** Handles one event; called asynchronously, with a copy of its own. */
export type BusHandler = (event: BusEvent) => void;

/** Options every implementation takes. */
export interface BusOptions {
  /**
   * Prefix of every topic on the bus server (dot-separated tokens, see
   * topic.ts); buses with different namespaces never hear each other, so
   * several clusters or test runs can share one NATS server. Default
   * DEFAULT_NAMESPACE.
   */
  namespace?: string;
  /**
   * Told of every error the bus cannot throw to a caller: a handler or
   * listener that threw, an event on the wire that is not a JSON object.
   * `topic` is the topic involved, if any. Default: one `bus-error` line on
   * stderr (src/log.ts).
   */
  onError?: (error: unknown, topic?: string) => void;
}

/** The namespace when none is given. */
export const DEFAULT_NAMESPACE = 'tinychat';

/** Events between server nodes; see the contract above. */
export interface Bus {
  /** Human-readable, for logs and health: "in-process" or "nats://127.0.0.1:4222" (never credentials). */
  readonly description: string;
  /** The state now; see BusState. */
  readonly state: BusState;
  /**
   * Sends a copy of `event` to every current subscription of `topic`, on
   * every node including this one. Throws only for an invalid topic or
   * event; never for a lost connection (the event may then be dropped). Does
   * nothing on a closed bus.
   */
  publish(topic: string, event: BusEvent): void;
  /**
   * Calls `handler` for each event published to exactly `topic` from now on;
   * handlers run asynchronously, never inside publish(). Throws only for an
   * invalid topic.
   */
  subscribe(topic: string, handler: BusHandler): BusSubscription;
  /**
   * Resolves once everything this bus published (and subscribed) before the
   * call has reached the bus server. Never rejects: when the connection is
   * down or drops first it resolves anyway, without that promise (the state
   * says so). In-process there is no server: it resolves at once.
   */
  flush(): Promise<void>;
  /**
   * Calls `listener` after every change of `state`, with the new state;
   * returns a function that removes the listener.
   */
  onStateChange(listener: (state: BusState) => void): () => void;
  /** Stops all delivery and disconnects; see the contract above. */
  close(): Promise<void>;
}
