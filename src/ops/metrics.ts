/**
 * What the server reports for its metrics, as calls at the seams where
 * things happen (a send refused, a receipt written, a stream cut off).
 * The chat code knows only this interface; `prometheus-metrics.ts` turns the
 * calls into Prometheus series, and `noMetrics` drops them when metrics are
 * off. Labels take values from small fixed sets only, never a user name or
 * a message id, so the number of series stays bounded.
 */
export interface ServerMetrics {
  /** Messages newly written by the store (duplicates of a retried send are not counted). */
  messagesStored(count: number): void;
  /**
   * An inbox message was written to one of its receiver's streams; `lagMs`,
   * for live deliveries, is the time since the server accepted it.
   */
  messageDelivered(lagMs?: number): void;
  /** A send was refused; `reason` is the error code it was refused with. */
  messageRefused(reason: string): void;
  /** A login finished. */
  login(outcome: LoginOutcomeLabel): void;
  streamOpened(): void;
  /** The server ended a stream with an error status. */
  streamCutOff(reason: StreamCutOffReason): void;
  /** From the arrival of a send to the write of its receipt. */
  receiptWritten(seconds: number): void;
  /** One store transaction of `batchSize` appended messages took `seconds`. */
  storeCommit(seconds: number, batchSize: number): void;
  /** A store call failed for a reason other than the request itself (disk, lock, connection). */
  storeError(operation: string): void;
  /** Retention deleted this many old messages. */
  messagesExpired(count: number): void;
  /** A file upload or download began; `fileTransferEnded` follows exactly once. */
  fileTransferStarted(direction: FileDirection): void;
  fileTransferEnded(direction: FileDirection): void;
  /**
   * File bytes held in server memory changed by `delta` (positive when
   * taken in, negative when let go): upload bytes received and not yet
   * stored, download bytes handed to a stream and not yet passed on to the
   * connection. Every increase is matched by decreases when the transfer ends.
   */
  fileBytesInFlight(direction: FileDirection, delta: number): void;
  /** File bytes stored by an upload, or passed on to the connection by a download. */
  fileBytesMoved(direction: FileDirection, bytes: number): void;
}

/** Which way a file goes: to the server (`upload`) or from it (`download`). */
export type FileDirection = 'upload' | 'download';

/** How a login ended: `failed` covers wrong passwords, disabled and unknown accounts. */
export type LoginOutcomeLabel = 'ok' | 'failed' | 'locked_out' | 'error';

/**
 * Why the server cut a stream off: it fell too far behind (`lagging`), its
 * session ended (`session_ended`: /QUIT elsewhere, a password change), the
 * server is stopping or cannot serve (`unavailable`), its store could not be
 * read (`store_error`), or any other error code.
 */
export type StreamCutOffReason = 'lagging' | 'session_ended' | 'unavailable' | 'store_error' | 'other';

/** Metrics off: every call does nothing. */
export const noMetrics: ServerMetrics = {
  messagesStored() {},
  messageDelivered() {},
  messageRefused() {},
  login() {},
  streamOpened() {},
  streamCutOff() {},
  receiptWritten() {},
  storeCommit() {},
  storeError() {},
  messagesExpired() {},
  fileTransferStarted() {},
  fileTransferEnded() {},
  fileBytesInFlight() {},
  fileBytesMoved() {},
};

/** What the endpoint serves: the exposition text and its content type. */
export interface MetricsSource {
  text(): Promise<string>;
  readonly contentType: string;
}

/** A listening `/metrics` endpoint. */
export interface MetricsEndpoint {
  /** host:port it listens on (the real port when 0 was asked for). */
  readonly address: string;
  /** From now on `/metrics` answers with `source`; before, with 503 while the server starts. */
  serve(source: MetricsSource): void;
  close(): Promise<void>;
}
