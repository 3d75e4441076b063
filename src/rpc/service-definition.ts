import { BinaryReader } from '@bufbuild/protobuf/wire';
import { ChatService, ClientFrame } from '../gen/tinychat/v1/chat';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Reads uint64 fields past 2^53 − 1 as 2^53 − 1, the largest number the
 * generated types hold exactly. Without it the generated decoder throws on
 * such a value and grpc-js ends the whole stream with INTERNAL, although the
 * frame is well-formed protobuf. No sequence number is that large, so the
 * session then refuses it like any number past the newest message: with a
 * per-frame error, the stream staying open.
 */
class SaturatingReader extends BinaryReader {
  override uint64(): bigint | string {
    const value = super.uint64();
    return BigInt(value) > MAX_SAFE ? MAX_SAFE : value;
  }
}

/** The Chat service as the server registers it: every well-formed ClientFrame decodes. */
export const chatServiceDefinition: typeof ChatService = {
  ...ChatService,
  converse: {
    ...ChatService.converse,
    requestDeserialize: (bytes: Buffer): ClientFrame => ClientFrame.decode(new SaturatingReader(bytes)),
  },
};
