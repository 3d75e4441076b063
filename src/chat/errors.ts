/**
 * The one error type of the domain. Every failure a user can meet is a
 * ChatError with a code and a sentence that says what to do next; the rpc
 * edge maps the code to a gRPC status in one place (rpc/status.ts).
 */
export type ErrorCode =
  | 'invalid-argument'
  | 'not-found'
  | 'already-exists'
  | 'unauthenticated'
  | 'permission-denied'
  | 'failed-precondition'
  | 'resource-exhausted'
  | 'unavailable'
  | 'internal';

/** A failure with a code and a message written for the person who hit it. */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** When waiting helps (rate limits): the earliest retry that can succeed, in ms from now. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}

/**
 * "in 3 s", "in 2 min": a wait a person can use, always rounded up so that
 * a retry after it succeeds (never "0.0 s").
 */
export function waitPhrase(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 120) return `in ${seconds} s`;
  return `in ${Math.ceil(seconds / 60)} min`;
}

/** True when `err` is a ChatError, optionally with the given code. */
export function isChatError(err: unknown, code?: ErrorCode): err is ChatError {
  return err instanceof ChatError && (code === undefined || err.code === code);
}

/**
 * Turns anything thrown into a ChatError. Unknown errors become 'internal'
 * with a message that hides details (they are logged, not shown).
 */
export function asChatError(err: unknown): ChatError {
  if (err instanceof ChatError) return err;
  return new ChatError('internal', 'the server hit an unexpected error; try again, and tell the operator if it persists');
}
