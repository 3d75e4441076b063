// node-postgres (`pg`) rather than `postgres` (porsager): it is the long-
// established driver with a separate, explicit Pool that emits 'error' for
// idle connections the server dropped (so a restart of PostgreSQL can be
// survived without crashing), it runs a transaction as plain statements on
// one checked-out client, and its types (@types/pg) cover pool, client and
// per-pool type parsers.
import pg from 'pg';
import type { Pool, QueryConfig, QueryResultRow } from 'pg';
import { ChatError } from '../chat/errors';
import { nameKey } from '../chat/names';
import { silentLogger, type Logger } from '../log';
import { appendInTransaction } from './postgres-append';
import { openFailureMessage, redactedUrl, storeError } from './postgres-errors';
import { SESSION_COLUMNS, SESSION_END_COLUMNS, MESSAGE_COLUMNS, MESSAGE_FROM, USER_COLUMNS } from './postgres-rows';
import { POSTGRES_ROOM_ENTRY_COLUMNS, POSTGRES_ROOM_ENTRY_FROM, PostgresRooms } from './postgres-rooms';
import { isPlainSchemaName, migratePostgres } from './postgres-schema';
import { inboxRows, type InboxRow } from './room-rows';
import type { JoinOutcome, JoinRequest, RoomAppendResult, RoomHistoryQuery, RoomListing, RoomMember, RoomPost, RoomRecord } from './room-store';
import { inTransaction } from './postgres-transaction';
import { messageFromRow, type MessageRow } from './file-column';
import type {
  AckPosition,
  AppendResult,
  ConversationQuery,
  NewLogin,
  NewMessage,
  RecordedLogin,
  SessionEnd,
  SessionEndReason,
  SessionRecord,
  Store,
  StoredMessage,
  UserRecord,
} from './store';

/** Options for opening a PostgreSQL store. */
export interface PostgresStoreOptions {
  /** The PostgreSQL schema holding TinyChat's tables, created if missing (default `public`); lower case letters, digits, `_`. */
  schema?: string;
  /** The connections' application_name, which pg_stat_activity shows (default `tinychat`). */
  applicationName?: string;
  /** At most this many connections (default 10). */
  maxConnections?: number;
  /** How long making a connection may take before the call fails as unavailable, in ms (default 5000). */
  connectTimeoutMs?: number;
  /** Where dropped connections are reported (default: nowhere). */
  logger?: Logger;
}

const INT8_OID = 20;

// BIGINT columns arrive as JS numbers: ids, times and sequence numbers stay
// far below 2^53 (see store.ts). Per pool, so other pg users keep strings.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

interface SessionRow extends Omit<SessionRecord, 'peerId'> {
  peerId: number | null;
}

type SessionEndRow = Omit<SessionEnd, 'tokenHash' | 'keptTokenHash'> & { tokenHash: string | null; keptTokenHash: string | null };

/**
 * A Store in a PostgreSQL database that several server nodes share, through
 * a pg.Pool.
 *
 * Durability: appendMessages resolves after COMMIT returned, which with
 * PostgreSQL's default synchronous_commit = on means the commit is flushed to
 * the server's WAL on disk: it survives a crash of TinyChat, of PostgreSQL or
 * of the machine. An operator who turns synchronous_commit off trades the
 * last commits on a database crash for speed.
 *
 * Several stores (nodes) may append to the same inbox at once: each batch
 * locks its receivers' rows (ascending id) and numbers their inboxes under
 * that lock, so every inbox stays 1, 2, 3, … without gaps or repeats, and ids
 * within an inbox increase with the sequence. Ids of messages to different
 * receivers come from one sequence but may commit out of id order across
 * concurrent transactions.
 *
 * When PostgreSQL goes away, calls reject with ChatError('unavailable') and
 * broken connections are dropped; once it is back the pool connects again by
 * itself. A connection lost during COMMIT leaves that batch's fate unknown
 * (it may be stored); a retry is safe, as sends are idempotent.
 */
export class PostgresStore implements Store {
  private closing: Promise<void> | undefined;
  private readonly rooms = new PostgresRooms(
    async <R extends object>(action: string, text: string, values: unknown[]) => (await this.query(action, text, values)).rows as R[],
    (action, work) => inTransaction(this.pool, action, work, this.onConnectionError),
  );

  /** Use openPostgresStore, which also migrates. */
  constructor(
    /** The connections, shared with the file store of the same database (files/postgres-blob-store.ts). */
    readonly pool: Pool,
    private readonly logger: Logger,
    /** Where the store is, for logs: the URL without its password, and the schema. */
    readonly description = 'postgres',
  ) {}

  private readonly onConnectionError = (err: Error): void => {
    this.logger.error('postgres-connection-lost', { error: err.message });
  };

  private async query<R extends QueryResultRow>(action: string, config: QueryConfig | string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await (typeof config === 'string' ? this.pool.query<R>(config, values) : this.pool.query<R>({ ...config, values }));
    } catch (err) {
      throw storeError(action, err);
    }
  }

  async registerUser(name: string, now: number, passwordHash?: string): Promise<{ user: UserRecord; created: boolean }> {
    const key = nameKey(name);
    // The insert either wins the name or, having waited for a concurrent
    // insert of the same key to commit, does nothing; the select that
    // follows (a new snapshot) then finds that winner.
    const inserted = await this.query<UserRecord>(
      'register users',
      `INSERT INTO users (name, name_key, created_at, last_seen_at, password_hash) VALUES ($1, $2, $3, $3, $4)
       ON CONFLICT (name_key) DO NOTHING RETURNING ${USER_COLUMNS}`,
      [name, key, now, passwordHash ?? null],
    );
    if (inserted.rowCount === 1) return { user: inserted.rows[0], created: true };
    const existing = await this.findUserByName(name);
    if (!existing) throw new Error(`user "${name}" neither inserted nor found`);
    return { user: existing, created: false };
  }

  async findUserByName(name: string): Promise<UserRecord | undefined> {
    const result = await this.query<UserRecord>('read users', { name: 'tinychat-user-by-key', text: `SELECT ${USER_COLUMNS} FROM users WHERE name_key = $1` }, [nameKey(name)]);
    return result.rows[0];
  }

  async findUsersByName(names: readonly string[]): Promise<UserRecord[]> {
    if (names.length === 0) return [];
    const keys = [...new Set(names.map(nameKey))];
    const result = await this.query<UserRecord>('read users', { name: 'tinychat-users-by-keys', text: `SELECT ${USER_COLUMNS} FROM users WHERE name_key = ANY($1::text[])` }, [keys]);
    return result.rows;
  }

  async findUserById(id: number): Promise<UserRecord | undefined> {
    const result = await this.query<UserRecord>('read users', { name: 'tinychat-user-by-id', text: `SELECT ${USER_COLUMNS} FROM users WHERE id = $1` }, [id]);
    return result.rows[0];
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.query<UserRecord>('read users', `SELECT ${USER_COLUMNS} FROM users ORDER BY name_key`)).rows;
  }

  async touchUser(userId: number, time: number): Promise<void> {
    await this.query('update users', { name: 'tinychat-touch-user', text: `UPDATE users SET last_seen_at = $1 WHERE id = $2` }, [time, userId]);
  }

  async search(userId: number, words: string[], limit: number): Promise<StoredMessage[]> {
    if (limit <= 0 || words.length === 0) return [];
    // plainto_tsquery reads plain text, never query syntax, and ANDs its words.
    const result = await this.query<MessageRow>(
      'search messages',
      {
        name: 'tinychat-search',
        text: `SELECT ${MESSAGE_COLUMNS} FROM ${MESSAGE_FROM}
               WHERE to_tsvector('simple', m.body) @@ plainto_tsquery('simple', $1) AND (m.sender_id = $2 OR m.receiver_id = $2)
               ORDER BY m.id DESC LIMIT $3`,
      },
      [words.join(' '), userId, limit],
    );
    return result.rows.map(messageFromRow);
  }

  async lastSequences(userIds: number[]): Promise<Map<number, number>> {
    if (userIds.length === 0) return new Map();
    const result = await this.query<{ id: number; lastSequence: number }>(
      'read users',
      { name: 'tinychat-last-sequences', text: `SELECT id, last_sequence AS "lastSequence" FROM users WHERE id = ANY($1::bigint[])` },
      [userIds],
    );
    return new Map(result.rows.map((row) => [row.id, row.lastSequence]));
  }

  async ping(): Promise<void> {
    await this.query('read its database', { name: 'tinychat-ping', text: 'SELECT 1' });
  }

  async setPassword(userId: number, passwordHash: string | null): Promise<void> {
    await this.query('update users', `UPDATE users SET password_hash = $1 WHERE id = $2`, [passwordHash, userId]);
  }

  async setUserDisabled(userId: number, disabled: boolean): Promise<void> {
    await this.query('update users', `UPDATE users SET disabled = $1 WHERE id = $2`, [disabled, userId]);
  }

  async recordLogin(login: NewLogin): Promise<RecordedLogin> {
    // One statement is one transaction and one round trip: the session row
    // is inserted from the user row the same statement wrote, so without
    // that row (an unknown id, a name taken) there is no session either.
    const sessionFrom = (user: string) =>
      `s AS (INSERT INTO sessions (token_hash, user_id, created_at, expires_at) SELECT $2, id, $1, $3 FROM ${user})`;
    if ('id' in login.user) {
      const touched = await this.query<UserRecord>(
        'save sessions',
        {
          name: 'tinychat-record-login',
          text: `WITH u AS (UPDATE users SET last_seen_at = $1 WHERE id = $4 RETURNING ${USER_COLUMNS}), ${sessionFrom('u')} SELECT * FROM u`,
        },
        [login.time, login.tokenHash, login.expiresAt, login.user.id],
      );
      if (touched.rowCount !== 1) throw new ChatError('not-found', `there is no user with id ${login.user.id}`);
      return { user: touched.rows[0], created: false, opened: true };
    }
    const { name, passwordHash } = login.user;
    // As in registerUser: an insert that meets a concurrent one of the same
    // key waits for it and does nothing; the select after it finds the winner.
    const inserted = await this.query<UserRecord>(
      'register users',
      {
        name: 'tinychat-record-first-login',
        text: `WITH u AS (INSERT INTO users (name, name_key, created_at, last_seen_at, password_hash) VALUES ($4, $5, $1, $1, $6)
                 ON CONFLICT (name_key) DO NOTHING RETURNING ${USER_COLUMNS}), ${sessionFrom('u')} SELECT * FROM u`,
      },
      [login.time, login.tokenHash, login.expiresAt, name, nameKey(name), passwordHash],
    );
    if (inserted.rowCount === 1) return { user: inserted.rows[0], created: true, opened: true };
    const existing = await this.findUserByName(name);
    if (!existing) throw new Error(`user "${name}" neither inserted nor found`);
    return { user: existing, created: false, opened: false };
  }

  async findSession(tokenHash: string): Promise<SessionRecord | undefined> {
    const result = await this.query<SessionRow>(
      'read sessions',
      { name: 'tinychat-session-by-hash', text: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE token_hash = $1` },
      [tokenHash],
    );
    const row = result.rows[0];
    if (!row) return undefined;
    const { peerId, ...rest } = row;
    return peerId === null ? rest : { ...rest, peerId };
  }

  async findSessionUser(tokenHash: string): Promise<{ session: SessionRecord; user: UserRecord } | undefined> {
    const result = await this.query<UserRecord & { tokenHash: string; sessionCreatedAt: number; expiresAt: number; peerId: number | null }>(
      'read sessions',
      {
        name: 'tinychat-session-user-by-hash',
        text: `SELECT s.token_hash AS "tokenHash", s.created_at AS "sessionCreatedAt", s.expires_at AS "expiresAt", s.peer_id AS "peerId",
                 u.id, u.name, u.created_at AS "createdAt", u.last_seen_at AS "lastSeenAt", u.last_sequence AS "lastSequence",
                 u.acked_sequence AS "ackedSequence", u.password_hash AS "passwordHash", u.disabled
               FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`,
      },
      [tokenHash],
    );
    const row = result.rows[0];
    if (!row) return undefined;
    const { tokenHash: hash, sessionCreatedAt, expiresAt, peerId, ...user } = row;
    const session: SessionRecord = { tokenHash: hash, userId: user.id, createdAt: sessionCreatedAt, expiresAt };
    if (peerId !== null) session.peerId = peerId;
    return { session, user };
  }

  async setSessionPeer(tokenHash: string, peerId: number | undefined): Promise<void> {
    await this.query('save sessions', `UPDATE sessions SET peer_id = $1 WHERE token_hash = $2`, [peerId ?? null, tokenHash]);
  }

  async deleteSession(tokenHash: string, reason: SessionEndReason, time: number): Promise<boolean> {
    return this.endSessions('end sessions', async (client) => {
      const deleted = await client.query<{ userId: number }>(`DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id AS "userId"`, [tokenHash]);
      if (deleted.rowCount === 0) return false;
      await client.query(INSERT_SESSION_END, [deleted.rows[0].userId, tokenHash, null, reason, time]);
      return true;
    });
  }

  async deleteUserSessions(userId: number, reason: SessionEndReason, time: number, exceptTokenHash?: string): Promise<number> {
    return this.endSessions('end sessions', async (client) => {
      const deleted = await client.query(`DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2`, [userId, exceptTokenHash ?? '']);
      await client.query(INSERT_SESSION_END, [userId, null, exceptTokenHash ?? null, reason, time]);
      return deleted.rowCount ?? 0;
    });
  }

  // Session-end ids come from a sequence, and concurrent transactions could
  // commit them out of order, letting a follower skip an end for good. The
  // table lock (taken first, so no transaction waits for it while holding a
  // session row) makes id order commit order; readers are not blocked, as
  // EXCLUSIVE mode still admits plain SELECTs. These writes are rare.
  private endSessions<T>(action: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(
      this.pool,
      action,
      async (client) => {
        await client.query('LOCK TABLE session_ends IN EXCLUSIVE MODE');
        return work(client);
      },
      this.onConnectionError,
    );
  }

  async sessionEndsAfter(afterId: number, limit: number): Promise<SessionEnd[]> {
    if (limit <= 0) return [];
    const result = await this.query<SessionEndRow>(
      'read sessions',
      { name: 'tinychat-session-ends-after', text: `SELECT ${SESSION_END_COLUMNS} FROM session_ends WHERE id > $1 ORDER BY id LIMIT $2` },
      [afterId, limit],
    );
    return result.rows.map(({ tokenHash, keptTokenHash, ...rest }) => ({
      ...rest,
      ...(tokenHash === null ? {} : { tokenHash }),
      ...(keptTokenHash === null ? {} : { keptTokenHash }),
    }));
  }

  async lastSessionEndId(): Promise<number> {
    return (await this.query<{ id: number }>('read sessions', `SELECT coalesce(max(id), 0)::bigint AS id FROM session_ends`)).rows[0].id;
  }

  async pruneSessionEnds(time: number): Promise<number> {
    return (await this.query('end sessions', `DELETE FROM session_ends WHERE time < $1`, [time])).rowCount ?? 0;
  }

  async deleteMessagesBefore(time: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    // As in SQLite: up the primary key to the first message to keep, then delete below it.
    const deleted = await this.query(
      'delete old messages',
      `DELETE FROM messages WHERE id IN (
         SELECT id FROM messages
         WHERE id < coalesce((SELECT id FROM messages WHERE time >= $1 ORDER BY id LIMIT 1), 9223372036854775807)
         ORDER BY id LIMIT $2)`,
      [time, limit],
    );
    return deleted.rowCount ?? 0;
  }

  async deleteExpiredSessions(now: number): Promise<number> {
    return (await this.query('save sessions', `DELETE FROM sessions WHERE expires_at <= $1`, [now])).rowCount ?? 0;
  }

  async appendMessages(batch: NewMessage[]): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    return inTransaction(this.pool, 'store messages', (client) => appendInTransaction(client, batch), this.onConnectionError);
  }

  async inboxAfter(userId: number, afterSequence: number, limit: number): Promise<StoredMessage[]> {
    if (limit <= 0) return [];
    const result = await this.query<InboxRow & { file: MessageRow['file'] }>(
      'read messages',
      {
        name: 'tinychat-inbox-after',
        // The one inbox: one-to-one messages and room entries, each side
        // read in sequence order up to the limit, then merged (room entries carry no file).
        text: `(SELECT ${MESSAGE_COLUMNS}, NULL AS room, NULL AS "roomEvent" FROM ${MESSAGE_FROM}
                WHERE m.receiver_id = $1 AND m.sequence > $2 ORDER BY m.sequence LIMIT $3)
               UNION ALL
               (SELECT id, "senderId", "receiverId", sender, receiver, "clientId", body, time, sequence, kind, NULL::jsonb AS file, room, "roomEvent"
                FROM (SELECT ${POSTGRES_ROOM_ENTRY_COLUMNS} FROM ${POSTGRES_ROOM_ENTRY_FROM}
                      WHERE i.user_id = $1 AND i.sequence > $2 ORDER BY i.sequence LIMIT $3) AS entries)
               ORDER BY sequence LIMIT $3`,
      },
      [userId, afterSequence, limit],
    );
    return inboxRows(result.rows.map(messageFromRow) as InboxRow[]);
  }

  findRoom(name: string): Promise<RoomRecord | undefined> {
    return this.rooms.findRoom(name);
  }

  listRooms(userId: number): Promise<RoomListing[]> {
    return this.rooms.listRooms(userId);
  }

  roomsOf(userId: number): Promise<RoomRecord[]> {
    return this.rooms.roomsOf(userId);
  }

  roomMembers(roomId: number): Promise<RoomMember[]> {
    return this.rooms.roomMembers(roomId);
  }

  isRoomMember(roomId: number, userId: number): Promise<boolean> {
    return this.rooms.isRoomMember(roomId, userId);
  }

  isInvited(roomId: number, userId: number): Promise<boolean> {
    return this.rooms.isInvited(roomId, userId);
  }

  joinRoom(request: JoinRequest): Promise<JoinOutcome> {
    return this.rooms.joinRoom(request);
  }

  leaveRoom(roomId: number, userId: number, clientId: string, time: number, kickedBy?: number): Promise<RoomAppendResult> {
    return this.rooms.leaveRoom(roomId, userId, clientId, time, kickedBy);
  }

  postToRoom(post: RoomPost): Promise<RoomAppendResult> {
    return this.rooms.postToRoom(post);
  }

  inviteToRoom(roomId: number, userId: number): Promise<'invited' | 'already-invited' | 'member'> {
    return this.rooms.inviteToRoom(roomId, userId);
  }

  roomHistory(roomId: number, userId: number, query: RoomHistoryQuery): Promise<StoredMessage[]> {
    return this.rooms.roomHistory(roomId, userId, query);
  }

  async deleteRoomMessagesBefore(time: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    return this.rooms.deleteEntriesBefore(time, limit);
  }

  async conversation(userA: number, userB: number, query: ConversationQuery): Promise<StoredMessage[]> {
    if (query.limit <= 0) return [];
    const result = await this.query<MessageRow>(
      'read messages',
      {
        name: 'tinychat-conversation',
        text: `SELECT ${MESSAGE_COLUMNS} FROM ${MESSAGE_FROM}
               WHERE least(m.sender_id, m.receiver_id) = $1 AND greatest(m.sender_id, m.receiver_id) = $2 AND m.id < $3
               ORDER BY m.id DESC LIMIT $4`,
      },
      [Math.min(userA, userB), Math.max(userA, userB), query.beforeId ?? Number.MAX_SAFE_INTEGER, query.limit],
    );
    return result.rows.map(messageFromRow);
  }

  async messageById(id: number): Promise<StoredMessage | undefined> {
    const result = await this.query<MessageRow>(
      'read messages',
      { name: 'tinychat-message-by-id', text: `SELECT ${MESSAGE_COLUMNS} FROM ${MESSAGE_FROM} WHERE m.id = $1` },
      [id],
    );
    return result.rows[0] && messageFromRow(result.rows[0]);
  }

  async conversationFiles(userA: number, userB: number, limit: number): Promise<StoredMessage[]> {
    if (limit <= 0) return [];
    const result = await this.query<MessageRow>(
      'read messages',
      {
        name: 'tinychat-conversation-files',
        text: `SELECT ${MESSAGE_COLUMNS} FROM ${MESSAGE_FROM}
               WHERE least(m.sender_id, m.receiver_id) = $1 AND greatest(m.sender_id, m.receiver_id) = $2 AND m.file IS NOT NULL
               ORDER BY m.id DESC LIMIT $3`,
      },
      [Math.min(userA, userB), Math.max(userA, userB), limit],
    );
    return result.rows.map(messageFromRow);
  }

  async ack(positions: ReadonlyArray<AckPosition>): Promise<void> {
    if (positions.length === 0) return;
    const ids = positions.map((p) => p.userId);
    const sequences = positions.map((p) => p.sequence);
    await inTransaction(
      this.pool,
      'record what you have read',
      async (client) => {
        // Rows locked in ascending id order, as appends lock receivers, so
        // an ack burst and an append with common users cannot deadlock.
        await client.query({ name: 'tinychat-ack-lock', text: `SELECT id FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE` }, [ids]);
        await client.query(
          {
            name: 'tinychat-ack',
            text: `UPDATE users SET acked_sequence = greatest(acked_sequence, a.sequence)
                     FROM (SELECT id, max(sequence) AS sequence FROM unnest($1::bigint[], $2::bigint[]) AS t(id, sequence) GROUP BY id) a
                    WHERE users.id = a.id`,
          },
          [ids, sequences],
        );
      },
      this.onConnectionError,
    );
  }

  /** Waits for running queries, then closes every connection. Safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}

const INSERT_SESSION_END = {
  name: 'tinychat-insert-session-end',
  text: `INSERT INTO session_ends (user_id, token_hash, kept_token_hash, reason, time) VALUES ($1, $2, $3, $4, $5)`,
};

/**
 * Connects to PostgreSQL at `url` and brings the schema up to date (waiting
 * for another node that is migrating it). Rejects with a sentence naming the
 * server (never its password) when it cannot be reached, refuses the login
 * or lacks the database, and when the schema comes from a newer TinyChat.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const schema = options.schema ?? 'public';
  if (!isPlainSchemaName(schema)) {
    throw new Error(`"${schema}" is not a schema name TinyChat can use; use lower case letters, digits and _ (at most 63)`);
  }
  const logger = options.logger ?? silentLogger;
  const pool = new pg.Pool({
    connectionString: url,
    application_name: options.applicationName ?? 'tinychat',
    options: `-c search_path=${schema}`,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    types,
  });
  // An idle connection the server dropped (restart, pg_terminate_backend):
  // the pool has already discarded it and connects afresh when asked. Without
  // a listener this event would crash the process.
  pool.on('error', (err) => logger.error('postgres-connection-lost', { error: err.message, server: redactedUrl(url) }));

  try {
    const client = await pool.connect();
    const onError = (err: Error) => logger.error('postgres-connection-lost', { error: err.message, server: redactedUrl(url) });
    client.on('error', onError);
    let failed: Error | undefined;
    try {
      await migratePostgres(client, schema);
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      client.removeListener('error', onError);
      client.release(failed);
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    const sentence = openFailureMessage(url, err);
    if (sentence === undefined) throw err;
    throw new Error(sentence, { cause: err });
  }
  return new PostgresStore(pool, logger, schema === 'public' ? redactedUrl(url) : `${redactedUrl(url)} (schema ${schema})`);
}
