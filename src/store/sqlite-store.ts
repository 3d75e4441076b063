import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ChatError } from '../chat/errors';
import { nameKey } from '../chat/names';
import { inboxRows, type InboxRow } from './room-rows';
import type { JoinOutcome, JoinRequest, RoomAppendResult, RoomHistoryQuery, RoomListing, RoomMember, RoomPost, RoomRecord } from './room-store';
import { SQLITE_ROOM_ENTRY_COLUMNS, SQLITE_ROOM_ENTRY_FROM, SQLITE_ROOM_INBOX_BY_ENTRY, SQLITE_ROOMS_SCHEMA, SqliteRooms } from './sqlite-rooms';
import { SQLITE_LAST_SEQUENCE, SqliteSequences } from './sqlite-sequences';
import { fileColumn, messageFromRow, type MessageRow } from './file-column';
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

/** The schema version this code writes; kept in PRAGMA user_version. */
export const SQLITE_SCHEMA_VERSION = 9;

// Version 1. Later versions append their steps to MIGRATIONS so an existing
// file is upgraded in place, one step at a time.
//
// STRICT makes SQLite refuse a value of the wrong type instead of storing it.
// AUTOINCREMENT guarantees ids are never reused, even if the newest rows were
// ever deleted. The expression index serves conversation(): one range scan
// over the pair (lower id, higher id) in id order, whichever way a message went.
const SCHEMA_V1 = `
CREATE TABLE users (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  name           TEXT    NOT NULL,
  name_key       TEXT    NOT NULL UNIQUE,
  created_at     INTEGER NOT NULL,
  last_seen_at   INTEGER NOT NULL,
  last_sequence  INTEGER NOT NULL DEFAULT 0,
  acked_sequence INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE sessions (
  token_hash TEXT    PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users (id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  peer_id    INTEGER REFERENCES users (id)
) STRICT, WITHOUT ROWID;

CREATE TABLE messages (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  sender_id   INTEGER NOT NULL REFERENCES users (id),
  receiver_id INTEGER NOT NULL REFERENCES users (id),
  client_id   TEXT    NOT NULL,
  body        TEXT    NOT NULL,
  time        INTEGER NOT NULL,
  sequence    INTEGER NOT NULL,
  UNIQUE (sender_id, client_id),
  UNIQUE (receiver_id, sequence)
) STRICT;

CREATE INDEX messages_by_pair
  ON messages (min(sender_id, receiver_id), max(sender_id, receiver_id), id);
`;

// Version 2: accounts get passwords (NULL for names registered before, see
// Accounts.login) and can be disabled by an operator; sessions can be found
// by user (a password change ends them) and by expiry (for cleanup).
const SCHEMA_V2 = `
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
`;

// Version 3: the log of ended sessions, which every server process sharing
// the file follows to close the streams of those sessions (an operator's
// `tinychat user del` runs in another process). No foreign key on user_id:
// the log outlives nothing and is pruned by time.
const SCHEMA_V3 = `
CREATE TABLE session_ends (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id         INTEGER NOT NULL,
  token_hash      TEXT,
  kept_token_hash TEXT,
  reason          TEXT    NOT NULL,
  time            INTEGER NOT NULL
) STRICT;
CREATE INDEX session_ends_by_time ON session_ends (time);
`;

// Version 4: messages have a kind ('text' or 'action'), and a full-text
// index for /SEARCH. The index keeps no copy of the text (content=messages)
// and follows the table through triggers; 'rebuild' indexes what is there.
const SCHEMA_V4 = `
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
CREATE VIRTUAL TABLE messages_text USING fts5 (body, content = 'messages', content_rowid = 'id');
CREATE TRIGGER messages_text_insert AFTER INSERT ON messages BEGIN
  INSERT INTO messages_text (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_text_delete AFTER DELETE ON messages BEGIN
  INSERT INTO messages_text (messages_text, rowid, body) VALUES ('delete', old.id, old.body);
END;
INSERT INTO messages_text (messages_text) VALUES ('rebuild');
`;

// Version 5: the full-text index no longer follows every insert through a
// trigger. Indexing one message per transaction cost more than the rest of
// the append together (FTS5 writes a new index segment per commit), so the
// index is brought up to date in batches (see SqliteStore.indexText) and
// remembers how far it got. Deleting a message not yet indexed leaves the
// index alone: it never held that message.
const SCHEMA_V5 = `
DROP TRIGGER messages_text_insert;
DROP TRIGGER messages_text_delete;
CREATE TABLE messages_text_position (
  only       INTEGER PRIMARY KEY CHECK (only = 1),
  indexed_id INTEGER NOT NULL
) STRICT;
INSERT INTO messages_text_position (only, indexed_id) VALUES (1, (SELECT coalesce(max(id), 0) FROM messages));
CREATE TRIGGER messages_text_delete AFTER DELETE ON messages
  WHEN old.id <= (SELECT indexed_id FROM messages_text_position)
BEGIN
  INSERT INTO messages_text (messages_text, rowid, body) VALUES ('delete', old.id, old.body);
END;
`;

// Version 6: rooms (sqlite-rooms.ts).

// Version 7: a file message carries its FileRef as JSON text (NULL for text
// messages); the partial index serves /FILES.
const SCHEMA_V7 = `
ALTER TABLE messages ADD COLUMN file TEXT;
CREATE INDEX messages_with_file ON messages (min(sender_id, receiver_id), max(sender_id, receiver_id), id) WHERE file IS NOT NULL;
`;

// Version 8: one-to-one appends no longer write users.last_sequence; a
// user's newest sequence is the higher of it and the newest message's
// (SQLITE_LAST_SEQUENCE). Nothing in the file changes, but a version 7
// server would number on from the column alone and reuse sequences, so the
// version goes up to keep it away from the file.
const SCHEMA_V8 = `-- no change to the tables`;

// Version 9: room inbox entries by log entry, for retention (sqlite-rooms.ts).

/** Schema steps; MIGRATIONS[n] takes a file from version n to n + 1. */
const MIGRATIONS: readonly string[] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SQLITE_ROOMS_SCHEMA, SCHEMA_V7, SCHEMA_V8, SQLITE_ROOM_INBOX_BY_ENTRY];

/**
 * How often new messages are added to the full-text index, and how many per
 * transaction at most. Indexing blocks the event loop while it runs (5,000
 * messages take 13–19 ms here), so it goes in small slices with I/O between
 * them: no delivery waits behind more than one slice (about 2 ms).
 */
const TEXT_INDEX_INTERVAL_MS = 100;
const TEXT_INDEX_BATCH = 500;

const USER_COLUMNS = `id, name, created_at AS createdAt, last_seen_at AS lastSeenAt,
  ${SQLITE_LAST_SEQUENCE} AS lastSequence, acked_sequence AS ackedSequence,
  password_hash AS passwordHash, disabled`;

/** A users row as SQLite returns it: `disabled` is 0 or 1. */
type UserRow = Omit<UserRecord, 'disabled'> & { disabled: number };

function toUser(row: UserRow): UserRecord;
function toUser(row: UserRow | undefined): UserRecord | undefined;
function toUser(row: UserRow | undefined): UserRecord | undefined {
  return row && { ...row, disabled: row.disabled !== 0 };
}

const MESSAGE_COLUMNS = `m.id, m.sender_id AS senderId, m.receiver_id AS receiverId,
  s.name AS sender, r.name AS receiver, m.client_id AS clientId, m.body, m.time, m.sequence, m.kind, m.file`;

const MESSAGE_FROM = `messages m JOIN users s ON s.id = m.sender_id JOIN users r ON r.id = m.receiver_id`;

interface SessionRow {
  tokenHash: string;
  userId: number;
  createdAt: number;
  expiresAt: number;
  peerId: number | null;
}

/** A session joined with its user: the user's columns, and the session's under their own names. */
type SessionUserRow = UserRow & { tokenHash: string; sessionCreatedAt: number; expiresAt: number; peerId: number | null };

function sessionUserFromRow({ tokenHash, sessionCreatedAt, expiresAt, peerId, ...user }: SessionUserRow): { session: SessionRecord; user: UserRecord } {
  const session: SessionRecord = { tokenHash, userId: user.id, createdAt: sessionCreatedAt, expiresAt };
  if (peerId !== null) session.peerId = peerId;
  return { session, user: toUser(user) };
}

/** Options for opening a SQLite store. */
export interface SqliteStoreOptions {
  /**
   * Caps the database at this many pages (PRAGMA max_page_count). Lets tests
   * provoke a real "database is full" without filling a disk.
   */
  maxPageCount?: number;
  /** How long a write waits for another connection's lock, in ms (default 2000). */
  busyTimeoutMs?: number;
  /**
   * Checkpoint the WAL from a worker thread instead of inside commits, so no
   * commit waits for a checkpoint's fsync (the server turns this on; a short
   * lived store, as in most tests, does not need the thread).
   */
  backgroundCheckpoints?: boolean;
}

/** How often, at most, the background checkpointer runs while the store writes (it sleeps while it does not). */
const CHECKPOINT_INTERVAL_MS = 250;

// Result codes (and their extended forms, e.g. SQLITE_IOERR_WRITE) that mean
// the database cannot be used right now rather than that a request is wrong.
const UNAVAILABLE_REASONS: ReadonlyArray<[prefix: string, reason: string]> = [
  ['SQLITE_FULL', 'its disk or database is full'],
  ['SQLITE_IOERR', 'its disk reported an error'],
  ['SQLITE_READONLY', 'its database is read-only'],
  ['SQLITE_BUSY', 'its database is busy'],
  ['SQLITE_LOCKED', 'its database is busy'],
  ['SQLITE_CANTOPEN', 'its database file cannot be opened'],
];

/**
 * Runs `work`, turning SQLite failures that mean "cannot use the database now"
 * into ChatError('unavailable') with a sentence for the person; the original
 * error is kept as `cause` for the server log. Anything else propagates.
 * Reads call it directly; writes go through SqliteStore.write.
 */
function guarded<T>(action: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof Database.SqliteError) {
      const found = UNAVAILABLE_REASONS.find(([prefix]) => err.code.startsWith(prefix));
      if (found) {
        const chatError = new ChatError('unavailable', `the server cannot ${action} right now (${found[1]}); try again later`);
        chatError.cause = err;
        throw chatError;
      }
    }
    throw err;
  }
}

/**
 * A Store in one SQLite file (or ':memory:'), through better-sqlite3.
 *
 * Durability: the file runs in WAL mode with synchronous = NORMAL. A commit is
 * written to the WAL before appendMessages resolves, so it survives a crash
 * or kill -9 of the process. A power loss or OS crash may lose the last few
 * commits (never corrupt the file); synchronous = FULL closes that gap at the
 * cost of an fsync per commit.
 *
 * Inbox sequences are numbered in memory (sqlite-sequences.ts), which is
 * safe because every transaction that takes them begins IMMEDIATE and reads
 * PRAGMA data_version first: numbers learned before another connection's
 * commit are read again from the file.
 *
 * better-sqlite3 is synchronous: every method does its work before returning
 * an already settled promise. A single server process owns the file; the busy
 * timeout only matters when an operator tool holds a lock meanwhile, and it
 * is kept short because the event loop waits with it.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmt: Statements;
  private readonly sequences: SqliteSequences;
  private readonly appendBatch: (batch: NewMessage[]) => AppendResult[];
  private readonly ackAll: (positions: ReadonlyArray<AckPosition>) => void;
  private readonly recordLoginOnce: (login: NewLogin) => RecordedLogin;
  private readonly rooms: SqliteRooms;
  private readonly deleteOld: (old: { time: number; limit: number }) => number;
  private checkpointer: Worker | undefined;
  /** Writes so far, for the checkpoint thread, which sleeps while this stays the same. */
  private readonly writes = new Int32Array(new SharedArrayBuffer(4));
  /** Checkpoints the thread has run. */
  private readonly checkpoints = new Int32Array(new SharedArrayBuffer(4));
  private readonly indexTextBatch: () => number;
  private textIndexTimer: NodeJS.Timeout | undefined;
  /** A run of index slices is under way (see indexTextQuietly). */
  private textIndexSlicing = false;
  /** Messages may have been appended since the full-text index last caught up. */
  private textIndexBehind = true;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.db = new Database(path, { timeout: options.busyTimeoutMs ?? 2000 });
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      migrate(this.db);
      if (options.maxPageCount !== undefined) this.setMaxPageCount(options.maxPageCount);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.stmt = prepareStatements(this.db);
    this.sequences = new SqliteSequences(this.db);
    this.appendBatch = (batch) => this.sequences.transaction(() => batch.map((m) => this.appendOne(m)));
    this.ackAll = this.db.transaction((positions: ReadonlyArray<AckPosition>) => {
      for (const { userId, sequence } of positions) this.stmt.ack.run(sequence, userId);
    });
    this.recordLoginOnce = this.db.transaction((login: NewLogin) => this.loginRows(login));
    this.rooms = new SqliteRooms(this.db, this.sequences);
    this.deleteOld = this.db.transaction((old: { time: number; limit: number }) => {
      this.stmt.keepSequencesOfOld.run(old);
      return this.stmt.deleteMessagesBefore.run(old).changes;
    });
    this.indexTextBatch = this.db.transaction(() => {
      const from = this.stmt.textIndexedUpTo.get()!.id;
      const to = this.stmt.textIndexBatchEnd.get(from, TEXT_INDEX_BATCH)!.id;
      if (to === null) return 0;
      this.stmt.indexText.run(from, to);
      this.stmt.setTextIndexedUpTo.run(to);
      return to - from;
    });
    // Catches up with whatever an earlier run left unindexed.
    this.scheduleTextIndex();
    if (options.backgroundCheckpoints && !this.db.memory) this.startCheckpointer(path);
  }

  private startCheckpointer(path: string): void {
    this.checkpointer = new Worker(join(__dirname, 'sqlite-checkpoint-worker.js'), {
      workerData: { path, intervalMs: CHECKPOINT_INTERVAL_MS, writes: this.writes.buffer, checkpoints: this.checkpoints.buffer },
    });
    this.checkpointer.unref();
    // If the thread dies, commits checkpoint again as SQLite does by default.
    this.checkpointer.on('error', () => this.db.open && this.db.pragma('wal_autocheckpoint = 1000'));
    this.db.pragma('wal_autocheckpoint = 0');
  }

  /** How many checkpoints the background thread has run (for tests and diagnostics). */
  get checkpointsRun(): number {
    return Atomics.load(this.checkpoints, 0);
  }

  /**
   * Runs a write as `guarded` runs a read, then wakes the checkpoint thread.
   * Every method that changes the file goes through here (the text index
   * calls wrote() itself): a change that did not would wait in the WAL,
   * copied and synced only after the next write or at close.
   */
  private write<T>(action: string, work: () => T): T {
    const result = guarded(action, work);
    this.wrote();
    return result;
  }

  private wrote(): void {
    if (!this.checkpointer) return;
    Atomics.add(this.writes, 0, 1);
    Atomics.notify(this.writes, 0);
  }

  /**
   * Caps the database at `pages` pages (never below its current size) and
   * returns the cap in effect. Raising it makes room again after a "full".
   */
  setMaxPageCount(pages: number): number {
    return this.db.pragma(`max_page_count = ${Math.floor(pages)}`, { simple: true }) as number;
  }

  /** The journal mode in effect ('wal' for a file, 'memory' for ':memory:'). */
  journalMode(): string {
    return this.db.pragma('journal_mode', { simple: true }) as string;
  }

  async registerUser(name: string, now: number, passwordHash?: string): Promise<{ user: UserRecord; created: boolean }> {
    return this.write('register users', () => {
      const key = nameKey(name);
      const inserted = this.stmt.insertUser.get(name, key, now, now, passwordHash ?? null);
      if (inserted) return { user: toUser(inserted), created: true };
      const existing = this.stmt.userByKey.get(key);
      if (!existing) throw new Error(`user "${name}" neither inserted nor found`);
      return { user: toUser(existing), created: false };
    });
  }

  async findUserByName(name: string): Promise<UserRecord | undefined> {
    return guarded('read users', () => toUser(this.stmt.userByKey.get(nameKey(name))));
  }

  async findUsersByName(names: readonly string[]): Promise<UserRecord[]> {
    if (names.length === 0) return [];
    const keys = JSON.stringify([...new Set(names.map(nameKey))]);
    return guarded('read users', () => this.stmt.usersByKeys.all(keys).map((row) => toUser(row)));
  }

  async findUserById(id: number): Promise<UserRecord | undefined> {
    return guarded('read users', () => toUser(this.stmt.userById.get(id)));
  }

  async listUsers(): Promise<UserRecord[]> {
    return guarded('read users', () => this.stmt.allUsers.all().map((row) => toUser(row)));
  }

  async setPassword(userId: number, passwordHash: string | null): Promise<void> {
    this.write('update users', () => this.stmt.setPassword.run(passwordHash, userId));
  }

  async setUserDisabled(userId: number, disabled: boolean): Promise<void> {
    this.write('update users', () => this.stmt.setDisabled.run(disabled ? 1 : 0, userId));
  }

  async deleteUserSessions(userId: number, reason: SessionEndReason, time: number, exceptTokenHash?: string): Promise<number> {
    return this.write('end sessions', () =>
      this.db.transaction(() => {
        const deleted = this.stmt.deleteUserSessions.run(userId, exceptTokenHash ?? '').changes;
        this.stmt.insertSessionEnd.run(userId, null, exceptTokenHash ?? null, reason, time);
        return deleted;
      })(),
    );
  }

  async sessionEndsAfter(afterId: number, limit: number): Promise<SessionEnd[]> {
    if (limit <= 0) return [];
    return guarded('read sessions', () =>
      this.stmt.sessionEndsAfter.all(afterId, limit).map(({ tokenHash, keptTokenHash, ...rest }) => ({
        ...rest,
        ...(tokenHash === null ? {} : { tokenHash }),
        ...(keptTokenHash === null ? {} : { keptTokenHash }),
      })),
    );
  }

  async lastSessionEndId(): Promise<number> {
    return guarded('read sessions', () => this.stmt.lastSessionEndId.get()!.id);
  }

  async pruneSessionEnds(time: number): Promise<number> {
    return this.write('end sessions', () => this.stmt.pruneSessionEnds.run(time).changes);
  }

  async deleteExpiredSessions(now: number): Promise<number> {
    return this.write('save sessions', () => this.stmt.deleteExpiredSessions.run(now).changes);
  }

  async touchUser(userId: number, time: number): Promise<void> {
    this.write('update users', () => this.stmt.touchUser.run(time, userId));
  }

  async recordLogin(login: NewLogin): Promise<RecordedLogin> {
    return this.write('save sessions', () => this.recordLoginOnce(login));
  }

  // The rows of one login, inside its transaction: a throw rolls back all of them.
  private loginRows(login: NewLogin): RecordedLogin {
    let user: UserRow | undefined;
    let created = false;
    if ('id' in login.user) {
      user = this.stmt.touchUserReturning.get(login.time, login.user.id);
      if (!user) throw new ChatError('not-found', `there is no user with id ${login.user.id}`);
    } else {
      const key = nameKey(login.user.name);
      user = this.stmt.insertUser.get(login.user.name, key, login.time, login.time, login.user.passwordHash);
      if (!user) {
        const existing = this.stmt.userByKey.get(key);
        if (!existing) throw new Error(`user "${login.user.name}" neither inserted nor found`);
        return { user: toUser(existing), created: false, opened: false };
      }
      created = true;
    }
    this.stmt.insertSession.run(login.tokenHash, user.id, login.time, login.expiresAt, null);
    return { user: toUser(user), created, opened: true };
  }

  async findSession(tokenHash: string): Promise<SessionRecord | undefined> {
    const row = guarded('read sessions', () => this.stmt.sessionByHash.get(tokenHash));
    if (!row) return undefined;
    const { peerId, ...rest } = row;
    return peerId === null ? rest : { ...rest, peerId };
  }

  async findSessionUser(tokenHash: string): Promise<{ session: SessionRecord; user: UserRecord } | undefined> {
    const row = guarded('read sessions', () => this.stmt.sessionUserByHash.get(tokenHash));
    return row && sessionUserFromRow(row);
  }

  async setSessionPeer(tokenHash: string, peerId: number | undefined): Promise<void> {
    this.write('save sessions', () => this.stmt.setSessionPeer.run(peerId ?? null, tokenHash));
  }

  async deleteSession(tokenHash: string, reason: SessionEndReason, time: number): Promise<boolean> {
    return this.write('end sessions', () =>
      this.db.transaction(() => {
        const session = this.stmt.deleteSession.get(tokenHash);
        if (session) this.stmt.insertSessionEnd.run(session.userId, tokenHash, null, reason, time);
        return session !== undefined;
      })(),
    );
  }

  async appendMessages(batch: NewMessage[]): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    this.textIndexBehind = true;
    this.scheduleTextIndex();
    return this.write('store messages', () => this.appendBatch(batch));
  }

  /**
   * Adds every message not yet in the full-text index to it, in
   * transactions of at most TEXT_INDEX_BATCH messages. Runs before each
   * search, so a search always sees every stored message; between searches
   * the timer keeps the index close behind, one slice at a time.
   */
  indexText(): void {
    if (!this.textIndexBehind) return;
    while (this.indexTextBatch() > 0) this.wrote();
    this.textIndexBehind = false;
  }

  /**
   * Indexes soon, once: one timer per store however many messages come, and
   * none while nothing is new, so an idle server is not woken for it.
   * Unreferenced, so a command-line tool can exit.
   */
  private scheduleTextIndex(): void {
    if (this.textIndexTimer !== undefined || !this.db.open) return;
    this.textIndexTimer = setTimeout(() => {
      this.textIndexTimer = undefined;
      this.indexTextQuietly();
    }, TEXT_INDEX_INTERVAL_MS).unref();
  }

  /** One slice of indexing, then the next after pending I/O, until caught up. */
  private indexTextQuietly(): void {
    if (!this.textIndexBehind || this.textIndexSlicing) return;
    this.textIndexSlicing = true;
    const slice = () => {
      try {
        if (this.db.open && this.indexTextBatch() > 0) {
          this.wrote();
          setImmediate(slice);
          return;
        }
        if (this.db.open) this.textIndexBehind = false;
      } catch {
        // Busy or full: a later timer, or the next search, tries again.
        this.textIndexSlicing = false;
        this.scheduleTextIndex();
        return;
      }
      this.textIndexSlicing = false;
    };
    slice();
  }

  async inboxAfter(userId: number, afterSequence: number, limit: number): Promise<StoredMessage[]> {
    if (limit <= 0) return [];
    return guarded('read messages', () => {
      // A reader that is caught up (a stream opening on an unchanged inbox)
      // costs two index lookups (the newest sequence, SQLITE_LAST_SEQUENCE)
      // instead of the merged inbox query, which costs ten times more.
      const head = this.stmt.lastSequence.get(userId);
      if (!head || head.lastSequence <= afterSequence) return [];
      return inboxRows(this.stmt.inboxAfter.all({ user: userId, after: afterSequence, limit }).map(messageFromRow) as InboxRow[]);
    });
  }

  async findRoom(name: string): Promise<RoomRecord | undefined> {
    return guarded('read rooms', () => this.rooms.findRoom(name));
  }

  async listRooms(userId: number): Promise<RoomListing[]> {
    return guarded('read rooms', () => this.rooms.listRooms(userId));
  }

  async roomsOf(userId: number): Promise<RoomRecord[]> {
    return guarded('read rooms', () => this.rooms.roomsOf(userId));
  }

  async roomMembers(roomId: number): Promise<RoomMember[]> {
    return guarded('read rooms', () => this.rooms.roomMembers(roomId));
  }

  async isRoomMember(roomId: number, userId: number): Promise<boolean> {
    return guarded('read rooms', () => this.rooms.isRoomMember(roomId, userId));
  }

  async isInvited(roomId: number, userId: number): Promise<boolean> {
    return guarded('read rooms', () => this.rooms.isInvited(roomId, userId));
  }

  async joinRoom(request: JoinRequest): Promise<JoinOutcome> {
    return this.write('save rooms', () => this.rooms.joinRoom(request));
  }

  async leaveRoom(roomId: number, userId: number, clientId: string, time: number, kickedBy?: number): Promise<RoomAppendResult> {
    return this.write('save rooms', () => this.rooms.leaveRoom(roomId, userId, clientId, time, kickedBy));
  }

  async postToRoom(post: RoomPost): Promise<RoomAppendResult> {
    return this.write('store messages', () => this.rooms.postToRoom(post));
  }

  async inviteToRoom(roomId: number, userId: number): Promise<'invited' | 'already-invited' | 'member'> {
    return this.write('save rooms', () => this.rooms.inviteToRoom(roomId, userId));
  }

  async roomHistory(roomId: number, userId: number, query: RoomHistoryQuery): Promise<StoredMessage[]> {
    return guarded('read messages', () => this.rooms.roomHistory(roomId, userId, query));
  }

  async conversation(userA: number, userB: number, query: ConversationQuery): Promise<StoredMessage[]> {
    if (query.limit <= 0) return [];
    return guarded('read messages', () =>
      this.stmt.conversation.all({
        lo: Math.min(userA, userB),
        hi: Math.max(userA, userB),
        before: query.beforeId ?? Number.MAX_SAFE_INTEGER,
        limit: query.limit,
      }).map(messageFromRow),
    );
  }

  async messageById(id: number): Promise<StoredMessage | undefined> {
    return guarded('read messages', () => {
      const row = this.stmt.messageById.get(id);
      return row && messageFromRow(row);
    });
  }

  async conversationFiles(userA: number, userB: number, limit: number): Promise<StoredMessage[]> {
    if (limit <= 0) return [];
    return guarded('read messages', () =>
      this.stmt.conversationFiles.all({ lo: Math.min(userA, userB), hi: Math.max(userA, userB), limit }).map(messageFromRow),
    );
  }

  async search(userId: number, words: string[], limit: number): Promise<StoredMessage[]> {
    if (limit <= 0 || words.length === 0) return [];
    // Each word as an FTS5 string, so nothing in it is read as query syntax.
    const query = words.map((word) => `"${word.replace(/"/g, '""')}"`).join(' ');
    return guarded('search messages', () => {
      this.indexText();
      return this.stmt.search.all({ query, user: userId, limit }).map(messageFromRow);
    });
  }

  async lastSequences(userIds: number[]): Promise<Map<number, number>> {
    return guarded('read users', () => {
      const found = new Map<number, number>();
      for (const id of userIds) {
        const row = this.stmt.lastSequence.get(id);
        if (row) found.set(id, row.lastSequence);
      }
      return found;
    });
  }

  async ping(): Promise<void> {
    guarded('read its database', () => this.stmt.ping.get());
  }

  async deleteMessagesBefore(time: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    return this.write('delete old messages', () => this.deleteOld({ time, limit }));
  }

  async deleteRoomMessagesBefore(time: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    return this.write('delete old messages', () => this.rooms.deleteEntriesBefore(time, limit));
  }

  async ack(positions: ReadonlyArray<AckPosition>): Promise<void> {
    if (positions.length === 0) return;
    this.write('record what you have read', () => this.ackAll(positions));
  }

  async close(): Promise<void> {
    clearTimeout(this.textIndexTimer);
    this.textIndexTimer = undefined;
    try {
      // Everything at once: nothing else will run on this store.
      if (this.db.open) this.indexText();
    } catch {
      // Busy or full: the next open catches up.
    }
    const checkpointer = this.checkpointer;
    this.checkpointer = undefined;
    if (checkpointer) {
      const exited = new Promise((resolve) => checkpointer.once('exit', resolve));
      // Held until it has stopped: an unreferenced thread would let the process exit before the final checkpoint.
      checkpointer.ref();
      checkpointer.postMessage('stop');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      if (this.db.open) this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
    if (this.db.open) this.db.close();
  }

  // One message inside the batch transaction. A (sender, clientId) pair seen
  // before, including earlier in this batch, returns the stored original and
  // leaves the receiver's sequence alone. The insert itself finds that out
  // (the pair is unique), so a new message costs one statement.
  private appendOne(message: NewMessage): AppendResult {
    const sender = this.sequences.head(message.senderId);
    const receiver = this.sequences.head(message.receiverId);
    const sequence = receiver.lastSequence + 1;
    const kind = message.kind ?? 'text';
    const info = this.stmt.insertMessage.run(
      message.senderId,
      message.receiverId,
      message.clientId,
      message.body,
      message.time,
      sequence,
      kind,
      fileColumn(message.file),
    );
    if (info.changes === 0) {
      const original = this.stmt.messageByClientId.get(message.senderId, message.clientId);
      if (!original) throw new Error(`message ${message.clientId} of user ${message.senderId} neither inserted nor found`);
      return { message: messageFromRow(original), duplicate: true };
    }
    this.sequences.next(message.receiverId);
    return {
      message: {
        id: Number(info.lastInsertRowid),
        senderId: message.senderId,
        receiverId: message.receiverId,
        sender: sender.name,
        receiver: receiver.name,
        clientId: message.clientId,
        body: message.body,
        time: message.time,
        sequence,
        kind,
        ...(message.file && { file: message.file }),
      },
      duplicate: false,
    };
  }
}

/** Opens (creating if needed) the SQLite store at `path`, which may be ':memory:'. */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}

// Brings the file up to SQLITE_SCHEMA_VERSION, refusing files from a newer
// version rather than guessing at their layout.
function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SQLITE_SCHEMA_VERSION) {
    throw new Error(
      `the database was written by a newer TinyChat (schema ${version}, this one knows ${SQLITE_SCHEMA_VERSION}); ` +
        'run the newer version or point the server at another database file',
    );
  }
  if (version === SQLITE_SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let step = version; step < SQLITE_SCHEMA_VERSION; step++) db.exec(MIGRATIONS[step]);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
  }).immediate();
}

type Statements = ReturnType<typeof prepareStatements>;

// The oldest messages sent before @time, at most @limit: walks ids upwards
// to the first message young enough to keep (a short scan: the old ones
// before it are what goes).
const OLD_MESSAGES = `SELECT id FROM messages
  WHERE id < coalesce((SELECT id FROM messages WHERE time >= @time ORDER BY id LIMIT 1), 9223372036854775807)
  ORDER BY id LIMIT @limit`;

// Every statement is prepared once, when the store opens.
function prepareStatements(db: Database.Database) {
  return {
    insertUser: db.prepare<[string, string, number, number, string | null], UserRow>(
      `INSERT INTO users (name, name_key, created_at, last_seen_at, password_hash) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name_key) DO NOTHING RETURNING ${USER_COLUMNS}`,
    ),
    userByKey: db.prepare<[string], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE name_key = ?`),
    usersByKeys: db.prepare<[string], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE name_key IN (SELECT value FROM json_each(?))`),
    userById: db.prepare<[number], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`),
    allUsers: db.prepare<[], UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY name_key`),
    setPassword: db.prepare<[string | null, number]>(`UPDATE users SET password_hash = ? WHERE id = ?`),
    setDisabled: db.prepare<[number, number]>(`UPDATE users SET disabled = ? WHERE id = ?`),
    touchUser: db.prepare<[number, number]>(`UPDATE users SET last_seen_at = ? WHERE id = ?`),
    touchUserReturning: db.prepare<[number, number], UserRow>(`UPDATE users SET last_seen_at = ? WHERE id = ? RETURNING ${USER_COLUMNS}`),
    ack: db.prepare<[number, number]>(`UPDATE users SET acked_sequence = max(acked_sequence, ?) WHERE id = ?`),
    lastSequence: db.prepare<[number], { lastSequence: number }>(`SELECT ${SQLITE_LAST_SEQUENCE} AS lastSequence FROM users WHERE id = ?`),
    ping: db.prepare<[], { one: number }>(`SELECT 1 AS one`),

    insertSession: db.prepare<[string, number, number, number, number | null]>(
      `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, peer_id) VALUES (?, ?, ?, ?, ?)`,
    ),
    sessionByHash: db.prepare<[string], SessionRow>(
      `SELECT token_hash AS tokenHash, user_id AS userId, created_at AS createdAt, expires_at AS expiresAt, peer_id AS peerId
       FROM sessions WHERE token_hash = ?`,
    ),
    sessionUserByHash: db.prepare<[string], SessionUserRow>(
      // The newest sequence as every user read gives it (users.last_sequence alone misses one-to-one messages).
      `SELECT s.token_hash AS tokenHash, s.created_at AS sessionCreatedAt, s.expires_at AS expiresAt, s.peer_id AS peerId,
         users.id, users.name, users.created_at AS createdAt, users.last_seen_at AS lastSeenAt, ${SQLITE_LAST_SEQUENCE} AS lastSequence,
         users.acked_sequence AS ackedSequence, users.password_hash AS passwordHash, users.disabled
       FROM sessions s JOIN users ON users.id = s.user_id WHERE s.token_hash = ?`,
    ),
    setSessionPeer: db.prepare<[number | null, string]>(`UPDATE sessions SET peer_id = ? WHERE token_hash = ?`),
    deleteSession: db.prepare<[string], { userId: number }>(`DELETE FROM sessions WHERE token_hash = ? RETURNING user_id AS userId`),
    deleteUserSessions: db.prepare<[number, string]>(`DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`),
    deleteExpiredSessions: db.prepare<[number]>(`DELETE FROM sessions WHERE expires_at <= ?`),
    insertSessionEnd: db.prepare<[number, string | null, string | null, SessionEndReason, number]>(
      `INSERT INTO session_ends (user_id, token_hash, kept_token_hash, reason, time) VALUES (?, ?, ?, ?, ?)`,
    ),
    sessionEndsAfter: db.prepare<[number, number], Omit<SessionEnd, 'tokenHash' | 'keptTokenHash'> & { tokenHash: string | null; keptTokenHash: string | null }>(
      `SELECT id, user_id AS userId, token_hash AS tokenHash, kept_token_hash AS keptTokenHash, reason, time
       FROM session_ends WHERE id > ? ORDER BY id LIMIT ?`,
    ),
    lastSessionEndId: db.prepare<[], { id: number }>(`SELECT coalesce(max(id), 0) AS id FROM session_ends`),
    pruneSessionEnds: db.prepare<[number]>(`DELETE FROM session_ends WHERE time < ?`),

    messageByClientId: db.prepare<[number, string], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM ${MESSAGE_FROM} WHERE m.sender_id = ? AND m.client_id = ?`,
    ),
    // Does nothing for a (sender, client id) pair already stored: changes is then 0.
    insertMessage: db.prepare<[number, number, string, string, number, number, string, string | null]>(
      `INSERT INTO messages (sender_id, receiver_id, client_id, body, time, sequence, kind, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sender_id, client_id) DO NOTHING`,
    ),
    // Before messages go, their receivers' users.last_sequence is raised to
    // the newest sequence, which may be among them (SQLITE_LAST_SEQUENCE).
    keepSequencesOfOld: db.prepare<{ time: number; limit: number }>(
      `UPDATE users SET last_sequence = ${SQLITE_LAST_SEQUENCE}
       WHERE id IN (SELECT receiver_id FROM messages WHERE id IN (${OLD_MESSAGES}))`,
    ),
    deleteMessagesBefore: db.prepare<{ time: number; limit: number }>(`DELETE FROM messages WHERE id IN (${OLD_MESSAGES})`),
    textIndexedUpTo: db.prepare<[], { id: number }>(`SELECT indexed_id AS id FROM messages_text_position`),
    textIndexBatchEnd: db.prepare<[number, number], { id: number | null }>(
      `SELECT max(id) AS id FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)`,
    ),
    indexText: db.prepare<[number, number]>(`INSERT INTO messages_text (rowid, body) SELECT id, body FROM messages WHERE id > ? AND id <= ?`),
    setTextIndexedUpTo: db.prepare<[number]>(`UPDATE messages_text_position SET indexed_id = ?`),
    search: db.prepare<{ query: string; user: number; limit: number }, MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages_text t, ${MESSAGE_FROM}
       WHERE messages_text MATCH @query AND m.id = t.rowid AND (m.sender_id = @user OR m.receiver_id = @user)
       ORDER BY m.id DESC LIMIT @limit`,
    ),
    // The one inbox: one-to-one messages and room entries, each side read
    // in sequence order up to the limit, then merged (room entries carry no file).
    inboxAfter: db.prepare<{ user: number; after: number; limit: number }, InboxRow & { file: MessageRow['file'] }>(
      `SELECT * FROM (SELECT ${MESSAGE_COLUMNS}, NULL AS room, NULL AS roomEvent FROM ${MESSAGE_FROM}
         WHERE m.receiver_id = @user AND m.sequence > @after ORDER BY m.sequence LIMIT @limit)
       UNION ALL
       SELECT id, senderId, receiverId, sender, receiver, clientId, body, time, sequence, kind, NULL AS file, room, roomEvent
       FROM (SELECT ${SQLITE_ROOM_ENTRY_COLUMNS} FROM ${SQLITE_ROOM_ENTRY_FROM}
         WHERE i.user_id = @user AND i.sequence > @after ORDER BY i.sequence LIMIT @limit)
       ORDER BY sequence LIMIT @limit`,
    ),
    conversation: db.prepare<{ lo: number; hi: number; before: number; limit: number }, MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM ${MESSAGE_FROM}
       WHERE min(m.sender_id, m.receiver_id) = @lo AND max(m.sender_id, m.receiver_id) = @hi AND m.id < @before
       ORDER BY m.id DESC LIMIT @limit`,
    ),
    messageById: db.prepare<[number], MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM ${MESSAGE_FROM} WHERE m.id = ?`),
    conversationFiles: db.prepare<{ lo: number; hi: number; limit: number }, MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM ${MESSAGE_FROM}
       WHERE min(m.sender_id, m.receiver_id) = @lo AND max(m.sender_id, m.receiver_id) = @hi AND m.file IS NOT NULL
       ORDER BY m.id DESC LIMIT @limit`,
    ),
  };
}
