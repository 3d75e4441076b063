import { ChatError } from '../chat/errors';

// Socket errors that mean the server cannot be reached or the connection broke.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// Errors node-postgres raises itself (no code) when a connection ends or
// cannot be made in time.
const LOST_CONNECTION_MESSAGES = /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended/;

/** The SQLSTATE or socket error code of `err`, looking inside an AggregateError (Node tries each address of a host). */
export function errorCode(err: unknown): string | undefined {
  if (err instanceof AggregateError && err.errors.length > 0) return errorCode(err.errors[0]);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Why PostgreSQL cannot be used right now, as a phrase for a person, or
 * undefined when `err` means something else (a bug, a bad request). Maps by
 * SQLSTATE class: 08 connection, 53 insufficient resources, 57P01–57P03
 * shutdown or start-up, 58 system (I/O) errors, plus socket errors.
 */
export function unavailableReason(err: unknown): string | undefined {
  const code = errorCode(err);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return 'its database cannot be reached';
    if (code.startsWith('08')) return 'its database connection was lost';
    if (code === '53100') return 'its database disk is full';
    if (code === '53200') return 'its database is out of memory';
    if (code === '53300') return 'its database has too many connections';
    if (code.startsWith('53')) return 'its database is out of resources';
    // 57P01 is both a shutdown and an operator's pg_terminate_backend.
    if (code === '57P01') return 'its database closed the connection';
    if (code === '57P02') return 'its database is restarting';
    if (code === '57P03') return 'its database is starting up';
    if (code.startsWith('58')) return 'its database disk reported an error';
    if (code === '25006') return 'its database is read-only';
    // Only reaches here once retries are used up, or set off by an operator's statement_timeout.
    if (code === '40P01' || code === '40001' || code === '57014') return 'its database is busy';
  }
  if (err instanceof Error && LOST_CONNECTION_MESSAGES.test(err.message)) return 'its database connection was lost';
  return undefined;
}

/**
 * True when the connection `err` came from must not go back to the pool: it
 * broke, or its server process is going away.
 */
export function isBrokenConnection(err: unknown): boolean {
  const code = errorCode(err);
  if (code !== undefined && (NETWORK_CODES.has(code) || code.startsWith('08') || code.startsWith('57P'))) return true;
  return err instanceof Error && LOST_CONNECTION_MESSAGES.test(err.message);
}

/** True for a deadlock or serialization failure: the transaction did nothing and may simply run again. */
export function isRetryableConflict(err: unknown): boolean {
  const code = errorCode(err);
  return code === '40P01' || code === '40001';
}

/**
 * `err` as the store reports it: a failure that means "cannot use the
 * database now" becomes ChatError('unavailable') with a sentence for the
 * person and the original as `cause` (for the server log); anything else is
 * returned unchanged.
 */
export function storeError(action: string, err: unknown): unknown {
  if (err instanceof ChatError) return err;
  const reason = unavailableReason(err);
  if (reason === undefined) return err;
  const chatError = new ChatError('unavailable', `the server cannot ${action} right now (${reason}); try again later`);
  chatError.cause = err;
  return chatError;
}

/**
 * The URL without its password (or any query parameter, which may hold one),
 * for messages and logs: postgres://user@host:port/db.
 */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return '(an unparsable PostgreSQL URL)';
  }
}

/**
 * The sentence for a store that could not open: unreachable, refused login,
 * missing database; undefined when `err` is none of these (it then speaks for
 * itself). Never contains the password.
 */
export function openFailureMessage(url: string, err: unknown): string | undefined {
  const where = redactedUrl(url);
  const code = errorCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (code === '28P01' || code === '28000') {
    return `PostgreSQL at ${where} refused the login (${detail}); check the user and password`;
  }
  if (code === '3D000') {
    return `PostgreSQL at ${where} has no such database (${detail}); create it (createdb) or fix the URL`;
  }
  if (unavailableReason(err) !== undefined && code !== '40P01' && code !== '40001' && code !== '57014') {
    return `cannot reach PostgreSQL at ${where} — is it running? (${code ?? detail})`;
  }
  return undefined;
}
