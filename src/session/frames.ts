import type { ChatError } from '../chat/errors';
import type { DrainableWriter } from '../streams/write-or-drain';
import type { PresenceChange } from '../queue/presence-watchers';
import type { AppendResult, FileRef, MessageKind, StoredMessage } from '../store/store';

/** A client frame, as the session sees it (rpc/ translates from the wire). */
export type InboundFrame =
  | { kind: 'send'; clientId: string; receiver: string; body: string; messageKind: MessageKind; file?: FileRef }
  | { kind: 'ack'; sequence: number }
  /** `watchUsers`, when non-empty, wins over `watchPresence` (everyone). */
  | { kind: 'resume'; afterSequence: number | undefined; watchPresence: boolean; watchUsers: string[] }
  /** Replaces the stream's watch set: everyone, or these names. */
  | { kind: 'watch'; users: string[]; everyone: boolean }
  | { kind: 'empty' }
  /** A frame refused at the edge (e.g. a string that is not UTF-8); only its error is answered. */
  | { kind: 'invalid'; error: ChatError; clientId: string };

/** What the server says when a stream opens. */
export interface Greeting {
  user: string;
  lastSequence: number;
  ackedSequence: number;
  /** The largest body the server accepts, so clients refuse longer ones themselves. */
  maxBodyBytes: number;
  /** The server node's name. */
  node: string;
}

/** A per-frame error: the stream stays open. */
export interface FrameFailure {
  error: ChatError;
  clientId: string;
}

/** One outbound frame's worth of deliveries; rpc/ encodes it as a ServerFrame. */
export interface OutboundBatch {
  greeting?: Greeting;
  messages: StoredMessage[];
  receipts: AppendResult[];
  presence: PresenceChange[];
  errors: FrameFailure[];
}

/** An empty batch to fill. */
export function emptyBatch(): OutboundBatch {
  return { messages: [], receipts: [], presence: [], errors: [] };
}

/**
 * Where a session writes, implemented by the rpc edge over a grpc-js stream.
 * It honours backpressure: when `write` returns false, the session waits for
 * 'drain' before writing more (see writeOrWaitForDrain).
 */
export interface FrameSink extends DrainableWriter<OutboundBatch> {
  /** Stops / restarts reading client frames (too many sends in flight). */
  pauseInput(): void;
  resumeInput(): void;
  /** Ends the stream: OK without an error, else the error's status. */
  end(error?: ChatError): void;
}
