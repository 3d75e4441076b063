import type Database from 'better-sqlite3';
import { ChatError } from '../chat/errors';

/** A user as an append needs it: the registered name and the newest inbox sequence. */
export interface InboxHead {
  name: string;
  lastSequence: number;
}

/**
 * The inbox sequences of an SQLite file, numbered in memory by the
 * connection that writes them, for both one-to-one messages and room
 * entries, so the two never hand out the same number.
 *
 * users.last_sequence stays the record: every write transaction that takes
 * sequences stores each receiver's newest one there before it commits (once
 * per receiver, however many messages the batch holds). Memory only saves
 * reading it back, and the names with it (users are never renamed), for
 * every message. So that memory can never run ahead of the file:
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
 */
export class SqliteSequences {
  /** Heads as of the last commit of this connection. */
  private readonly known = new Map<number, InboxHead>();
  /** Heads moved inside the running transaction, and whether users.last_sequence still has to be written. */
  private readonly moved = new Map<number, { head: InboxHead; unsaved: boolean }>();
  private dataVersion = -1;
  private inTransaction = false;
  private readonly stmt: ReturnType<typeof prepare>;
  private readonly run: Database.Transaction<(work: () => unknown) => unknown>;

  constructor(db: Database.Database) {
    this.stmt = prepare(db);
    this.run = db.transaction((work: () => unknown) => {
      this.begin();
      const value = work();
      this.save();
      return value;
    });
  }

  /**
   * Runs `work` in one write transaction (BEGIN IMMEDIATE) in which it may
   * take sequences; the newest of each receiver is written to users before
   * the commit. Throws what `work` or the commit threw, with nothing kept.
   */
  transaction<T>(work: () => T): T {
    if (this.inTransaction) throw new Error('SqliteSequences.transaction does not nest');
    this.inTransaction = true;
    try {
      const result = this.run.immediate(work) as T;
      for (const [userId, { head }] of this.moved) this.known.set(userId, head);
      return result;
    } finally {
      this.moved.clear();
      this.inTransaction = false;
    }
  }

  /** The user's name and newest sequence, this transaction's moves included; not-found for an unknown id. */
  head(userId: number): InboxHead {
    const moved = this.moved.get(userId);
    if (moved) return moved.head;
    const known = this.known.get(userId);
    if (known) return known;
    const row = this.stmt.load.get(userId);
    if (!row) throw new ChatError('not-found', `there is no user with id ${userId}; check the name with /USERS and try again`);
    this.known.set(userId, row);
    return row;
  }

  /** Takes the user's next sequence (inside `transaction`; `head` too). */
  next(userId: number): number {
    const head = this.head(userId);
    const taken = { name: head.name, lastSequence: head.lastSequence + 1 };
    this.moved.set(userId, { head: taken, unsaved: true });
    return taken.lastSequence;
  }

  /** Records a sequence that SQL already took and wrote to users (the room fan-out), inside `transaction`. */
  took(userId: number, name: string, sequence: number): void {
    this.moved.set(userId, { head: { name, lastSequence: sequence }, unsaved: false });
  }

  private begin(): void {
    const version = this.stmt.dataVersion.get() as number;
    if (version !== this.dataVersion) {
      this.known.clear();
      this.dataVersion = version;
    }
  }

  private save(): void {
    for (const [userId, entry] of this.moved) {
      if (entry.unsaved) this.stmt.save.run(entry.head.lastSequence, userId);
    }
  }
}

function prepare(db: Database.Database) {
  return {
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
    load: db.prepare<[number], InboxHead>(`SELECT name, last_sequence AS lastSequence FROM users WHERE id = ?`),
    save: db.prepare<[number, number]>(`UPDATE users SET last_sequence = ? WHERE id = ?`),
  };
}
