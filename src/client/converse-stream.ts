import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import type { ChatClient, ClientFrame, Ready, ServerFrame } from '../gen/tinychat/v1/chat';
import { ClientError, toClientError } from './errors';

// grpc-js reports a call's status as soon as it arrives, possibly before the
// last frames were read; the end of the stream is awaited, but not forever.
const STATUS_BEFORE_END_GRACE_MS = 1000;

/** One open Converse call. */
export interface ConverseStream {
  /** Writes one frame; onWritten runs once grpc-js has handed it to the transport. */
  write(frame: ClientFrame, onWritten?: () => void): void;
  /** Half-closes: the server still delivers what it owes, then ends the call. */
  end(): void;
  /** Ends the call at once. */
  cancel(): void;
  /** Resolves once the call has ended and its last frame was handled. */
  readonly done: Promise<void>;
}

/** What happens on the stream, in order: onReady once, onFrame per frame, onEnd once. */
export interface ConverseHandlers {
  /** The server greeted the stream; called before onFrame for the same frame. */
  onReady(stream: ConverseStream, ready: Ready): void;
  /** Every frame, including the one that carried ready. */
  onFrame(frame: ServerFrame): void;
  /** The stream ended after it was ready, with this status. */
  onEnd(status: StatusObject): void;
}

/** A Converse call being opened. */
export interface OpeningConverse {
  stream: ConverseStream;
  /**
   * Resolves once the server sent ready; rejects with a ClientError when the
   * call ends first or readyTimeoutMs passes.
   */
  ready: Promise<void>;
}

/** Opens Converse with the session token and reports its life to `handlers`. */
export function openConverse(
  client: ChatClient,
  token: string,
  options: { server: string; readyTimeoutMs: number },
  handlers: ConverseHandlers,
): OpeningConverse {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const call = client.converse(metadata);

  let isReady = false;
  let timedOut = false;
  let ended = false;
  let finished = false;
  let status: StatusObject | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  let resolveReady: () => void = () => {};
  let rejectReady: (error: ClientError) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  const stream: ConverseStream = {
    write: (frame, onWritten) => void call.write(frame, onWritten),
    end: () => call.end(),
    cancel: () => call.cancel(),
    done,
  };

  const readyTimer = setTimeout(() => {
    timedOut = true;
    call.cancel();
  }, options.readyTimeoutMs);

  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(readyTimer);
    clearTimeout(graceTimer);
    markDone();
    const final = status ?? { code: Status.UNKNOWN, details: 'the stream ended', metadata: new Metadata() };
    if (isReady) handlers.onEnd(final);
    else if (timedOut) {
      rejectReady(new ClientError(`${options.server} did not start the chat stream in time — try again`, Status.DEADLINE_EXCEEDED, true));
    } else rejectReady(toClientError(final, options.server));
  };

  call.on('data', (frame: ServerFrame) => {
    if (finished) return;
    if (frame.ready && !isReady) {
      isReady = true;
      clearTimeout(readyTimer);
      handlers.onReady(stream, frame.ready);
      resolveReady();
    }
    handlers.onFrame(frame);
  });
  // Non-OK statuses also arrive as 'error'; 'status' handles every ending.
  call.on('error', () => {});
  call.on('end', () => {
    ended = true;
    if (status) finish();
  });
  call.on('status', (received: StatusObject) => {
    status = received;
    if (ended) finish();
    else graceTimer = setTimeout(finish, STATUS_BEFORE_END_GRACE_MS);
  });

  return { stream, ready };
}
