import { existsSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { UsageError } from '../config';
import { checkSqliteLocation, DatabaseLocationError, explainSqliteFailure } from '../store/sqlite-location';
import { SQLITE_SCHEMA_VERSION } from '../store/sqlite-store';

/** Pages per backup step: all of them, so the copy is one read transaction, never restarted by the server's writes. */
const ALL_PAGES = 0x7fffffff;

/**
 * Writes a consistent copy of the live SQLite database `db` to `out` with
 * SQLite's online backup API, while the server keeps running: the copy is
 * taken in one read transaction, which in WAL mode holds up no writer. It
 * is written under a temporary name and renamed once checked, so `out`
 * never names a partial copy. Resolves with the number of pages copied.
 */
export async function backupSqlite(db: string, out: string): Promise<number> {
  const source = openExisting(db, '--db', 'check --db: it names the database the server uses');
  const target = resolve(out);
  if (existsSync(target)) {
    source.close();
    throw new UsageError(`${target} already exists — a backup never writes over a file: pick a new name, or remove the old one first`);
  }
  const partial = `${target}.partial`;
  try {
    checkSqliteLocation(target, 'OUT');
    rmSync(partial, { force: true });
    const { totalPages } = await source.backup(partial, { progress: () => ALL_PAGES });
    checkCopy(partial, target);
    renameSync(partial, target);
    return totalPages;
  } catch (err) {
    rmSync(partial, { force: true });
    throw explainSqliteFailure(target, err, 'OUT');
  } finally {
    source.close();
  }
}

/**
 * Replaces the database `db` with the copy in `backupFile` (one written by
 * `backupSqlite`). Refuses while any process has `db` open — a running
 * server would go on with what it remembers of the old data — and checks
 * the copy before touching `db`. Resolves with the number of pages restored.
 */
export async function restoreSqlite(backupFile: string, db: string): Promise<number> {
  const copy = openExisting(backupFile, 'BACKUP', 'name a file written by `tinychat backup`');
  try {
    checkCopy(resolve(backupFile), resolve(backupFile), copy);
  } catch (err) {
    copy.close();
    throw explainSqliteFailure(backupFile, err, 'BACKUP');
  }
  try {
    checkSqliteLocation(db);
    if (existsSync(db)) ensureNotInUse(db);
    const { totalPages } = await copy.backup(resolve(db), { progress: () => ALL_PAGES });
    checkCopy(resolve(db), resolve(db));
    return totalPages;
  } catch (err) {
    throw explainSqliteFailure(db, err);
  } finally {
    copy.close();
  }
}

function openExisting(path: string, what: string, hint: string): Database.Database {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`there is no database at ${file} (${what}) — ${hint}`);
  try {
    return new Database(file, { fileMustExist: true, timeout: 5000 });
  } catch (err) {
    throw explainSqliteFailure(file, err);
  }
}

/** Throws unless `path` (or the open `db`) holds an intact TinyChat database this version can run. */
function checkCopy(path: string, name: string, db?: Database.Database): void {
  const open = db ?? new Database(path, { fileMustExist: true });
  try {
    const check = open.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new DatabaseLocationError(`${name} is damaged (SQLite's quick_check says: ${String(check)}) — use another backup`);
    const version = open.pragma('user_version', { simple: true }) as number;
    if (version < 1) throw new DatabaseLocationError(`${name} is not a TinyChat database (it has no TinyChat schema) — name a file written by \`tinychat backup\``);
    if (version > SQLITE_SCHEMA_VERSION) {
      throw new DatabaseLocationError(`${name} was written by a newer TinyChat (schema ${version}, this one knows ${SQLITE_SCHEMA_VERSION}) — restore it with that version`);
    }
  } finally {
    if (!db) open.close();
  }
}

/**
 * A connection in WAL mode holds a shared lock on the file for as long as it
 * is open, so an exclusive lock is granted only when nobody else has it open.
 */
function ensureNotInUse(db: string): void {
  const probe = new Database(db, { fileMustExist: true, timeout: 0 });
  try {
    probe.pragma('locking_mode = EXCLUSIVE');
    probe.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY')) {
      throw new DatabaseLocationError(
        `${resolve(db)} is open in another process — stop tinychat serve (and any tinychat user or backup on it) first, then run restore again`,
      );
    }
    throw err;
  } finally {
    probe.close();
  }
}
