import { ChatConnection, type ClientError, type ConnectionOptions, type FailedSend, type SentMessage, type StateChange } from '../../src/client/connection';
import type { Message, PresenceChange } from '../../src/gen/tinychat/v1/chat';
import { TEST_PASSWORD } from './grpc-client';

/** Reconnect delays of milliseconds, so a restart or a cut costs a test little time. */
export const FAST_BACKOFF = { initialMs: 20, maxMs: 200 };

/** A ChatConnection and everything it emitted, each kind in the order it came. */
export interface Watched {
  connection: ChatConnection;
  messages: Message[];
  receipts: SentMessage[];
  failures: FailedSend[];
  presence: PresenceChange[];
  states: StateChange[];
  notices: string[];
  /** Errors are recorded here rather than thrown, so tests assert on them. */
  errors: ClientError[];
}

/**
 * A ChatConnection to `server` as `user` (TEST_PASSWORD, fast reconnects,
 * acknowledgements after 20 ms unless `options` say otherwise) whose every
 * event is recorded. It is not connected yet; the caller connects it and
 * must close it (`await watched.connection.close()`) before the test ends.
 */
export function watchConnection(server: string, user: string, options: Partial<ConnectionOptions> = {}): Watched {
  const connection = new ChatConnection({ server, user, password: TEST_PASSWORD, backoff: FAST_BACKOFF, ackDelayMs: 20, ...options });
  const watched: Watched = { connection, messages: [], receipts: [], failures: [], presence: [], states: [], notices: [], errors: [] };
  connection.on('message', (m) => watched.messages.push(m));
  connection.on('receipt', (r) => watched.receipts.push(r));
  connection.on('send-failed', (f) => watched.failures.push(f));
  connection.on('presence', (p) => watched.presence.push(p));
  connection.on('state', (s) => watched.states.push(s));
  connection.on('notice', (n) => watched.notices.push(n));
  connection.on('error', (e) => watched.errors.push(e));
  return watched;
}
