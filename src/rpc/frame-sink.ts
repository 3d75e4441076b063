import { toServiceError } from './status';
import { toServerFrame } from './wire';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { ChatError } from '../chat/errors';
import type { ClientFrame, ServerFrame } from '../gen/tinychat/v1/chat';
import type { FrameSink, OutboundBatch } from '../session/frames';

/** A session's FrameSink over a grpc-js server stream. */
export class GrpcFrameSink implements FrameSink {
  private ended = false;

  constructor(private readonly call: ServerDuplexStream<ClientFrame, ServerFrame>) {}

  write(batch: OutboundBatch): boolean {
    if (this.ended) return true;
    // write() returning false means grpc-js has buffered enough: the caller
    // waits for 'drain' before sending more.
    return this.call.write(toServerFrame(batch));
  }

  once(event: 'drain', listener: () => void): this {
    this.call.once(event, listener);
    return this;
  }

  pauseInput(): void {
    this.call.pause();
  }

  resumeInput(): void {
    this.call.resume();
  }

  end(error?: ChatError): void {
    if (this.ended) return;
    this.ended = true;
    if (error) {
      // grpc-js turns an 'error' event on a server stream into the call's status.
      this.call.emit('error', toServiceError(error));
    } else {
      this.call.end();
    }
  }
}
