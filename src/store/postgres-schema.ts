import type { PoolClient } from 'pg';
import { POSTGRES_ROOM_INBOX_BY_ENTRY, POSTGRES_ROOMS_SCHEMA } from './postgres-rooms';

/** The schema version this code writes; kept in the one row of `schema_version`. */
export const POSTGRES_SCHEMA_VERSION = 5;

// Version 1: the whole layout of the SQLite store at its version 3, in
// PostgreSQL types. Later versions append their steps to MIGRATIONS so an
// existing database is upgraded in place, one step at a time.
//
// Identity columns come from sequences, which never hand out a value twice,
// so ids are never reused (they may skip values a rolled-back transaction
// took). Times, ids and sequence numbers are BIGINT; the pool parses them to
// JS numbers (they stay far below 2^53). name_key is compared byte-wise
// (COLLATE "C") so uniqueness and order do not depend on the server's locale.
// The expression index serves conversation(): one range scan over the pair
// (lower id, higher id) in id order, whichever way a message went.
// session_ends has no foreign key on user_id: the log is pruned by time.
const SCHEMA_V1 = `
CREATE TABLE users (
  id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name           TEXT    NOT NULL,
  name_key       TEXT    COLLATE "C" NOT NULL UNIQUE,
  created_at     BIGINT  NOT NULL,
  last_seen_at   BIGINT  NOT NULL,
  last_sequence  BIGINT  NOT NULL DEFAULT 0,
  acked_sequence BIGINT  NOT NULL DEFAULT 0,
  password_hash  TEXT,
  disabled       BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE sessions (
  token_hash TEXT   PRIMARY KEY,
  user_id    BIGINT NOT NULL REFERENCES users (id),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  peer_id    BIGINT REFERENCES users (id)
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE messages (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sender_id   BIGINT NOT NULL REFERENCES users (id),
  receiver_id BIGINT NOT NULL REFERENCES users (id),
  client_id   TEXT   NOT NULL,
  body        TEXT   NOT NULL,
  time        BIGINT NOT NULL,
  sequence    BIGINT NOT NULL,
  UNIQUE (sender_id, client_id),
  UNIQUE (receiver_id, sequence)
);
CREATE INDEX messages_by_pair
  ON messages (least(sender_id, receiver_id), greatest(sender_id, receiver_id), id);

CREATE TABLE session_ends (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id         BIGINT NOT NULL,
  token_hash      TEXT,
  kept_token_hash TEXT,
  reason          TEXT   NOT NULL,
  time            BIGINT NOT NULL
);
CREATE INDEX session_ends_by_time ON session_ends (time);
`;

// Version 2: messages have a kind ('text' or 'action'), and /SEARCH has a
// full-text index: words as written ('simple': no stemming, no stop words),
// the same whole-word matching as SQLite's FTS5.
const SCHEMA_V2 = `
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
CREATE INDEX messages_text ON messages USING gin (to_tsvector('simple', body));
`;

// Version 3: rooms (postgres-rooms.ts).

// Version 4: files. A file message carries its FileRef (jsonb, NULL for text
// messages). The bytes of files live here too (files/postgres-blob-store.ts),
// so every node reads what any node received: partial uploads by owner and
// SHA-256, chunk by chunk; complete contents once per SHA-256. Chunks are
// already compressed or not worth it, so they are stored without TOAST
// compression.
const SCHEMA_V4 = `
ALTER TABLE messages ADD COLUMN file JSONB;
CREATE INDEX messages_with_file ON messages (least(sender_id, receiver_id), greatest(sender_id, receiver_id), id) WHERE file IS NOT NULL;
CREATE TABLE file_uploads (
  owner_id   BIGINT  NOT NULL,
  sha256     TEXT    NOT NULL,
  size       BIGINT  NOT NULL,
  stored     BIGINT  NOT NULL DEFAULT 0,
  complete   BOOLEAN NOT NULL DEFAULT false,
  updated_at BIGINT  NOT NULL,
  PRIMARY KEY (owner_id, sha256)
);
CREATE TABLE file_upload_chunks (
  owner_id     BIGINT NOT NULL,
  sha256       TEXT   NOT NULL,
  offset_bytes BIGINT NOT NULL,
  data         BYTEA  NOT NULL,
  PRIMARY KEY (owner_id, sha256, offset_bytes)
);
ALTER TABLE file_upload_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE TABLE file_blobs (
  sha256 TEXT   PRIMARY KEY,
  size   BIGINT NOT NULL
);
CREATE TABLE file_blob_chunks (
  sha256       TEXT   NOT NULL,
  offset_bytes BIGINT NOT NULL,
  data         BYTEA  NOT NULL,
  PRIMARY KEY (sha256, offset_bytes)
);
ALTER TABLE file_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
`;

// Version 5: room inbox entries by log entry, for retention (postgres-rooms.ts).

/** Schema steps; MIGRATIONS[n] takes a database from version n to n + 1. */
const MIGRATIONS: readonly string[] = [SCHEMA_V1, SCHEMA_V2, POSTGRES_ROOMS_SCHEMA, SCHEMA_V4, POSTGRES_ROOM_INBOX_BY_ENTRY];

// The first key of the advisory lock that serializes migrations; the second
// is a hash of the schema name, so stores of different schemas (tests) do not
// wait for each other.
const MIGRATION_LOCK_CLASS = 0x7463_6d67; // "tcmg"

/**
 * A PostgreSQL schema name TinyChat accepts: lower case, so it means the same
 * quoted and unquoted (search_path is given unquoted).
 */
export function isPlainSchemaName(schema: string): boolean {
  return /^[a-z_][a-z0-9_]{0,62}$/.test(schema);
}

/**
 * Brings `schema` (created if missing) up to POSTGRES_SCHEMA_VERSION, on a
 * client whose search_path is that schema. Safe when several nodes start at
 * once: a transaction-level advisory lock lets one migrate while the others
 * wait and then find the work done; DDL is transactional, so a failed step
 * leaves the previous version intact. Rejects a database written by a newer
 * version rather than guessing at its layout.
 */
export async function migratePostgres(client: PoolClient, schema: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]);
    // Checked before creating: CREATE SCHEMA IF NOT EXISTS would still demand
    // the CREATE privilege on the database, which a runtime role may lack.
    const present = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (present.rowCount === 0) await client.query(`CREATE SCHEMA ${client.escapeIdentifier(schema)}`);
    const table = await client.query(`SELECT to_regclass('schema_version') IS NOT NULL AS present`);
    let version = 0;
    if (table.rows[0].present) {
      const row = await client.query('SELECT version FROM schema_version');
      version = row.rowCount === 0 ? 0 : Number(row.rows[0].version);
    } else {
      // One row at most: the CHECK on a constant key makes a second insert impossible.
      await client.query(`CREATE TABLE schema_version (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), version INTEGER NOT NULL)`);
    }
    if (version > POSTGRES_SCHEMA_VERSION) {
      throw new Error(
        `the PostgreSQL schema "${schema}" was written by a newer TinyChat (schema ${version}, this one knows ${POSTGRES_SCHEMA_VERSION}); ` +
          'run the newer version or point the server at another database or schema',
      );
    }
    for (let step = version; step < POSTGRES_SCHEMA_VERSION; step++) await client.query(MIGRATIONS[step]);
    if (version !== POSTGRES_SCHEMA_VERSION) {
      await client.query(
        `INSERT INTO schema_version (version) VALUES ($1) ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version`,
        [POSTGRES_SCHEMA_VERSION],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
