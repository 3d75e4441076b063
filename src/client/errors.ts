import { status as Status, type ServiceError, type StatusObject } from '@grpc/grpc-js';

/**
 * A failure the client reports to the person: the message is ready to show
 * and says what to do next; `code` is the gRPC status number behind it
 * (e.g. 5 NOT_FOUND) so callers can tell failures apart without parsing text.
 */
export class ClientError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** The sentence shown whenever the server cannot be reached at all. */
export function unreachableMessage(server: string): string {
  return `cannot reach ${server} — is \`tinychat serve\` running?`;
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number';
}

/**
 * Turns a failed gRPC call (or its final status) into a ClientError. The
 * server's own text is kept as is, because it is written for people;
 * transport failures, which carry grpc-js internals instead, are replaced by
 * a sentence naming the server.
 */
export function toClientError(failure: unknown, server: string): ClientError {
  if (failure instanceof ClientError) return failure;
  let code: number;
  let details: string;
  if (isServiceError(failure)) {
    code = failure.code;
    details = failure.details;
  } else if (failure && typeof failure === 'object' && typeof (failure as StatusObject).code === 'number') {
    code = (failure as StatusObject).code;
    details = (failure as StatusObject).details;
  } else {
    return new ClientError(failure instanceof Error ? failure.message : String(failure), Status.UNKNOWN);
  }
  switch (code) {
    case Status.UNAVAILABLE:
      return new ClientError(unreachableMessage(server), code);
    case Status.DEADLINE_EXCEEDED:
      return new ClientError(`${server} did not answer in time — check the address, or try again`, code);
    case Status.CANCELLED:
      return new ClientError('the call was cancelled because the connection is closing', code);
    default:
      return new ClientError(details || `the server refused the call (gRPC status ${code})`, code);
  }
}
