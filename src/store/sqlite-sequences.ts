import type Database from 'better-sqlite3';
import { ChatError } from '../chat/errors';

/** A user as an append needs it: the registered name and the newest inbox sequence. */
export interface InboxHead {
  name: string;
  lastSequence: number;
}

/**
 * A user's newest inbox sequence as SQL, for `users` in the statement: the
 * newest one-to-one message's, or users.last_sequence when that is higher.
 *
 * One-to-one appends do not write users.last_sequence (that would add a
 * statement and a page to every commit); the messages table already holds
 * each receiver's newest sequence, in its (receiver_id, sequence) index.
 * users.last_sequence keeps what the messages cannot: room entries (the
 * room fan-out writes it, see sqlite-rooms.ts, so it outlives the entries
 * retention deletes) and the sequences of one-to-one messages that
 * retention deleted (it raises the column first).
 */
export const SQLITE_LAST_SEQUENCE = `max(users.last_sequence,
  coalesce((SELECT max(sequence) FROM messages WHERE receiver_id = users.id), 0))`;

/**
 * The inbox sequences of an SQLite file, numbered in memory by the
 * connection that writes them, for both one-to-one messages and room
 * entries, so the two never hand out the same number.
 *
 * The file stays the record (SQLITE_LAST_SEQUENCE); memory only saves
 * reading it, and the names with it (users are never renamed), for every
 * message. So that memory can never run ahead of the file:
 *
 * - numbers taken inside a transaction are kept apart and become the known
 *   ones only once the commit succeeded; a transaction that throws (or whose
 *   commit fails) leaves the known numbers as they were;
 * - every transaction starts with BEGIN IMMEDIATE, so it holds the write
 *   lock from its first statement, and then reads PRAGMA data_version, which
 *   changes when another connection (an operator's tool, a second process
 *   started on the same file by mistake) committed since: everything known
 *   is then forgotten and read again from the file;
 * - a restart (or kill -9) starts with nothing known.
 *
 * The room fan-out numbers its members in SQL from users.last_sequence
 * alone (a second lookup per member made a room post's SQLite work 8%
 * dearer), so `settleForRooms` brings the column up to date first: for
 * the users this connection numbered since, or for every user after a
 * start or another connection's commit (whose one-to-one messages this
 * one cannot know).
 */
export class SqliteSequences {
  /** Heads as of the last commit of this connection. */
  private readonly known = new Map<number, InboxHead>();
  /** Users whose known head is ahead of users.last_sequence. */
  private readonly unsaved = new Set<number>();
  /** users.last_sequence may lag behind some user's messages that this connection does not know of. */
  private columnBehind = true;
  /** Heads moved inside the running transaction, and which of them users.last_sequence does not have. */
  private readonly moved = new Map<number, InboxHead>();
  private readonly movedUnsaved = new Set<number>();
  private settled: 'no' | 'unsaved' | 'all' = 'no';
  private dataVersion = -1;
  private inTransaction = false;
  private readonly stmt: ReturnType<typeof prepare>;
  private readonly run: Database.Transaction<(work: () => unknown) => unknown>;

  constructor(db: Database.Database) {
    this.stmt = prepare(db);
    this.run = db.transaction((work: () => unknown) => {
      this.begin();
      return work();
    });
  }

  /**
   * Runs `work` in one write transaction (BEGIN IMMEDIATE) in which it may
   * take sequences. Throws what `work` or the commit threw, with nothing kept.
   */
  transaction<T>(work: () => T): T {
    if (this.inTransaction) throw new Error('SqliteSequences.transaction does not nest');
    this.inTransaction = true;
    try {
      const result = this.run.immediate(work) as T;
      this.committed();
      return result;
    } finally {
      this.moved.clear();
      this.movedUnsaved.clear();
      this.settled = 'no';
      this.inTransaction = false;
    }
  }

  /** The user's name and newest sequence, this transaction's moves included; not-found for an unknown id. */
  head(userId: number): InboxHead {
    const moved = this.moved.get(userId);
    if (moved) return moved;
    const known = this.known.get(userId);
    if (known) return known;
    const row = this.stmt.load.get(userId);
    if (!row) throw new ChatError('not-found', `there is no user with id ${userId}; check the name with /USERS and try again`);
    this.known.set(userId, row);
    return row;
  }

  /**
   * Takes the user's next sequence (inside `transaction`, as `head`). The
   * caller stores a message with it in the same transaction: that row is
   * what keeps the number taken after a restart.
   */
  next(userId: number): number {
    const head = this.head(userId);
    const taken = { name: head.name, lastSequence: head.lastSequence + 1 };
    this.moved.set(userId, taken);
    this.movedUnsaved.add(userId);
    return taken.lastSequence;
  }

  /**
   * Brings users.last_sequence up to every user's newest sequence, inside
   * `transaction`, before SQL numbers from it (the room fan-out).
   */
  settleForRooms(): void {
    if (this.columnBehind) {
      this.stmt.settleAll.run();
      this.settled = 'all';
      return;
    }
    for (const userId of this.unsaved) this.stmt.save.run(this.known.get(userId)!.lastSequence, userId);
    for (const userId of this.movedUnsaved) this.stmt.save.run(this.moved.get(userId)!.lastSequence, userId);
    this.movedUnsaved.clear();
    this.settled = 'unsaved';
  }

  /** Records a sequence that SQL already took and wrote to users (the room fan-out), inside `transaction`. */
  took(userId: number, name: string, sequence: number): void {
    this.moved.set(userId, { name, lastSequence: sequence });
    this.movedUnsaved.delete(userId);
  }

  private begin(): void {
    const version = this.stmt.dataVersion.get() as number;
    if (version !== this.dataVersion) {
      this.known.clear();
      this.unsaved.clear();
      this.columnBehind = true;
      this.dataVersion = version;
    }
  }

  private committed(): void {
    if (this.settled === 'all') {
      this.columnBehind = false;
      this.unsaved.clear();
    } else if (this.settled === 'unsaved') {
      this.unsaved.clear();
    }
    for (const [userId, head] of this.moved) {
      this.known.set(userId, head);
      if (this.movedUnsaved.has(userId)) this.unsaved.add(userId);
      else this.unsaved.delete(userId);
    }
  }
}

function prepare(db: Database.Database) {
  return {
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
    load: db.prepare<[number], InboxHead>(`SELECT name, ${SQLITE_LAST_SEQUENCE} AS lastSequence FROM users WHERE id = ?`),
    save: db.prepare<[number, number]>(`UPDATE users SET last_sequence = ? WHERE id = ?`),
    settleAll: db.prepare(`UPDATE users SET last_sequence = ${SQLITE_LAST_SEQUENCE} WHERE last_sequence < ${SQLITE_LAST_SEQUENCE}`),
  };
}
