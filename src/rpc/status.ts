import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { ErrorCode } from '../chat/errors';
import { asChatError } from '../chat/errors';

const STATUS_BY_CODE: Record<ErrorCode, status> = {
  'invalid-argument': status.INVALID_ARGUMENT,
  'not-found': status.NOT_FOUND,
  'already-exists': status.ALREADY_EXISTS,
  unauthenticated: status.UNAUTHENTICATED,
  'permission-denied': status.PERMISSION_DENIED,
  'failed-precondition': status.FAILED_PRECONDITION,
  'resource-exhausted': status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  internal: status.INTERNAL,
};

/** The gRPC status code for a domain error code: the one mapping in the project. */
export function grpcStatusOf(code: ErrorCode): status {
  return STATUS_BY_CODE[code];
}

/** Any thrown value as the error object grpc-js sends as a call's status. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const chatError = asChatError(err);
  const metadata = new Metadata();
  if (chatError.retryAfterMs !== undefined) metadata.set(RETRY_AFTER_KEY, String(Math.ceil(chatError.retryAfterMs)));
  return { code: grpcStatusOf(chatError.code), details: wellFormed(chatError.message), metadata };
}

/** Trailing metadata entry that tells a client, in milliseconds, when a retry can succeed. */
export const RETRY_AFTER_KEY = 'retry-after-ms';

/**
 * grpc-js sends the details through encodeURI, which throws on a lone
 * surrogate — outside any call, so the whole process would stop. Messages
 * quote user input; make sure no half character reaches it.
 */
function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}
