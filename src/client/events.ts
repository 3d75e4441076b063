import type { Message, PresenceChange } from '../gen/tinychat/v1/chat';
import type { ClientError } from './errors';
import type { PendingSend } from './outbox';

/**
 * Where the connection is. 'idle' only before connect(); 'closed' is final.
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** One change of ConnectionState, with what a person may want to be told. */
export interface StateChange {
  state: ConnectionState;
  /**
   * True when the change follows a lost connection; false before the first
   * connection, including 'reconnecting' waits between first attempts at a
   * server that cannot be reached yet.
   */
  reconnect: boolean;
  /** For 'reconnecting': milliseconds until the next attempt. */
  delayMs?: number;
  /** For 'reconnecting': why the last connection or attempt failed, in words for people. */
  reason?: string;
  /** The address in use (one of --server's), and for 'connected' the server node's name. */
  server?: string;
  node?: string;
}

/** A send the server has durably stored. */
export interface SentMessage {
  clientId: string;
  /** True when the server had stored this clientId before (the send was a retry). */
  duplicate: boolean;
  /** The message as stored: sender is this user, with the server's id, sequence and time. */
  message: Message;
}

/** A send the server refused; it will not be retried. */
export interface FailedSend extends PendingSend {
  /** The gRPC status number the server gave (e.g. 5 NOT_FOUND). */
  code: number;
  /** The server's explanation, written for people. */
  reason: string;
}

/** The events a ChatConnection emits, with their arguments. */
export type ConnectionEvents = {
  /** The connection moved to another state. */
  state: [change: StateChange];
  /** A message not shown before: one addressed to the user, or a copy of one the user sent elsewhere. */
  message: [message: Message];
  /** A send made on this connection was stored. */
  receipt: [sent: SentMessage];
  /** A send made on this connection was refused. */
  'send-failed': [failed: FailedSend];
  /** A user came online or went offline. */
  presence: [change: PresenceChange];
  /** Something worth telling the person that is not a failure. */
  notice: [text: string];
  /** A failure to show the person; only emitted while someone listens for it. */
  error: [error: ClientError];
};
