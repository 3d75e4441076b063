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
    /** True when the same attempt may succeed later unchanged: nothing listens yet, or no answer in time. */
    readonly retryable = false,
    /** How long the server asked to wait before trying again (a login lockout), when it said. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

// The trailer in which the server says how long to wait (rpc/status.ts writes it).
const RETRY_AFTER_KEY = 'retry-after-ms';

/** The sentence shown whenever the server cannot be reached at all. */
export function unreachableMessage(server: string): string {
  return `cannot reach ${server} — is \`tinychat serve\` running?`;
}

/**
 * Connection failures that are not "nothing listens there", recognised by
 * the cause grpc-js puts in an UNAVAILABLE status; the first match wins.
 * Most of them are a TLS setting that differs between client and server,
 * which "cannot reach" would misdescribe: the server is there.
 */
const CONNECTION_FAILURES: Array<{ cause: RegExp; explain: (server: string, cause: string) => string }> = [
  {
    // OpenSSL reading a plaintext HTTP/2 answer as a TLS record.
    cause: /wrong version number|packet length too long|unknown protocol/i,
    explain: (server) => `${server} does not speak TLS — connect without --tls and --ca, or ask its operator to turn TLS on`,
  },
  {
    // The server's TLS alert after it asked for a client certificate.
    cause: /certificate required|alert bad certificate|alert unknown ca|alert certificate unknown|alert handshake failure/i,
    explain: (server) =>
      `${server} requires a client certificate signed by a CA it trusts — pass yours with --tls-cert FILE and --tls-key FILE`,
  },
  {
    cause: /Hostname\/IP does not match certificate's altnames/i,
    explain: (server) =>
      `the certificate of ${server} is not made out to that name or address — connect by a name the certificate lists, or ask its operator to add this one`,
  },
  {
    cause: /unable to verify the first certificate|unable to get (?:local )?issuer certificate|self[- ]signed certificate(?: in certificate chain)?|certificate has expired|certificate is not yet valid|certificate signature failure/i,
    explain: (server, cause) =>
      `the certificate of ${server} is not trusted (${cause}) — pass the CA certificate that signed it with --ca FILE`,
  },
  {
    // TCP (and TLS, if any) connected, but the server closed the connection
    // before its HTTP/2 settings came: a plaintext client at a TLS server, or
    // a client certificate refused after a TLS 1.3 handshake.
    cause: /Failed to connect/,
    explain: (server) =>
      `${server} closed the connection before speaking gRPC — the server may require TLS: try --tls (with --ca FILE if its certificate comes from a private CA); if it requires client certificates, also --tls-cert and --tls-key`,
  },
];

/**
 * The error for a connection that failed: a mismatch of settings (which no
 * retry fixes) when its cause is recognised, else "cannot reach", which
 * waiting may cure.
 */
function connectionFailure(details: string, server: string, code: number): ClientError {
  for (const { cause, explain } of CONNECTION_FAILURES) {
    const match = cause.exec(details);
    if (match) return new ClientError(explain(server, match[0]), code);
  }
  return new ClientError(unreachableMessage(server), code, true);
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number';
}

/**
 * Turns a failed gRPC call (or its final status) into a ClientError. The
 * server's own text is kept as is, because it is written for people;
 * transport failures, which carry grpc-js internals instead, are replaced by
 * a sentence naming the server and, for TLS mismatches, the flag to change.
 */
export function toClientError(failure: unknown, server: string): ClientError {
  if (failure instanceof ClientError) return failure;
  let code: number;
  let details: string;
  let retryAfterMs: number | undefined;
  if (isServiceError(failure)) {
    code = failure.code;
    details = failure.details;
    const wait = Number(failure.metadata?.get(RETRY_AFTER_KEY)[0]);
    if (Number.isFinite(wait) && wait > 0) retryAfterMs = wait;
  } else if (failure && typeof failure === 'object' && typeof (failure as StatusObject).code === 'number') {
    code = (failure as StatusObject).code;
    details = (failure as StatusObject).details;
  } else {
    return new ClientError(failure instanceof Error ? failure.message : String(failure), Status.UNKNOWN);
  }
  switch (code) {
    case Status.UNAVAILABLE:
      return connectionFailure(details ?? '', server, code);
    case Status.DEADLINE_EXCEEDED:
      return new ClientError(`${server} did not answer in time — check the address, or try again`, code, true);
    case Status.CANCELLED:
      return new ClientError('the call was cancelled because the connection is closing', code);
    default:
      return new ClientError(details || `the server refused the call (gRPC status ${code})`, code, false, retryAfterMs);
  }
}
