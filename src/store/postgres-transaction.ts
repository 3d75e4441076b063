import type { Pool, PoolClient } from 'pg';
import { isBrokenConnection, isRetryableConflict, storeError } from './postgres-errors';

/** How often a transaction runs again after a deadlock, serialization failure or RetryTransaction. */
const MAX_ATTEMPTS = 6;

/**
 * Thrown inside a transaction to roll it back and run it again from the
 * start (for a race whose winner the next attempt will see).
 */
export class RetryTransaction extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'RetryTransaction';
  }
}

/**
 * Runs `work` in one transaction on one pooled connection (READ COMMITTED)
 * and commits; resolves once the commit returned. A deadlock (40P01), a
 * serialization failure (40001) or a RetryTransaction rolls back and runs
 * `work` again, a few times; then, or on any other failure, it rolls back
 * and rejects with storeError(action, …). A broken connection is destroyed
 * rather than returned to the pool, so the next call gets a fresh one.
 *
 * If the connection breaks during COMMIT the outcome is unknown to the
 * client (PostgreSQL may have committed); the caller gets 'unavailable'.
 */
export async function inTransaction<T>(
  pool: Pool,
  action: string,
  work: (client: PoolClient) => Promise<T>,
  onConnectionError: (err: Error) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw storeError(action, err);
    }
    // A checked-out client has no pool listener: without this, a connection
    // that breaks between two statements would crash the process.
    client.on('error', onConnectionError);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (isBrokenConnection(err)) broken = err as Error;
      else await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
      const retry = broken === undefined && (isRetryableConflict(err) || err instanceof RetryTransaction);
      if (!retry || attempt >= MAX_ATTEMPTS) {
        if (err instanceof RetryTransaction) throw new Error(`gave up after ${attempt} attempts: ${err.message}`);
        throw storeError(action, err);
      }
    } finally {
      client.removeListener('error', onConnectionError);
      client.release(broken);
    }
    // Deadlocked transactions would likely meet again at once; a short random pause parts them.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
  }
}
