import { BinaryReader } from '@bufbuild/protobuf/wire';
import { ChatService, ClientFrame, CommandRequest } from '../gen/tinychat/v1/chat';
import { decodeUtf8Marked } from './strict-utf8';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The reader every request is decoded with.
 *
 * Strings: invalid UTF-8 is marked rather than replaced (rpc/strict-utf8.ts),
 * so the edge can refuse it instead of merging distinct values.
 *
 * uint64 fields past 2^53 − 1 read as 2^53 − 1, the largest number the
 * generated types hold exactly. Without it the generated decoder throws on
 * such a value and grpc-js ends the whole stream with INTERNAL, although the
 * frame is well-formed protobuf. No sequence number is that large, so the
 * session then refuses it like any number past the newest message: with a
 * per-frame error, the stream staying open.
 */
export class RequestReader extends BinaryReader {
  constructor(bytes: Uint8Array) {
    super(bytes, decodeUtf8Marked);
  }

  override uint64(): bigint | string {
    const value = super.uint64();
    return BigInt(value) > MAX_SAFE ? MAX_SAFE : value;
  }
}

/** The Chat service as the server registers it: every well-formed request decodes, strings strictly. */
export const chatServiceDefinition: typeof ChatService = {
  ...ChatService,
  command: {
    ...ChatService.command,
    requestDeserialize: (bytes: Buffer): CommandRequest => CommandRequest.decode(new RequestReader(bytes)),
  },
  converse: {
    ...ChatService.converse,
    requestDeserialize: (bytes: Buffer): ClientFrame => ClientFrame.decode(new RequestReader(bytes)),
  },
};
