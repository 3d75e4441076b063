import { accessSync, constants, statfsSync, statSync, type Stats } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { isChatError } from '../chat/errors';

/** Below this much free space the server does not start: its first writes would fail. */
export const MIN_FREE_BYTES = 1024 * 1024;

/** A database file that cannot be used, in one sentence that names it, says why and what to do. */
export class DatabaseLocationError extends Error {}

/**
 * Checks that an SQLite database can live at `path` before SQLite opens it,
 * because SQLite's own errors name neither the file nor the fix ("unable to
 * open database file"). The server needs the directory (SQLite creates
 * `-wal` and `-shm` files beside the database), the file if it exists, and
 * some free space. ':memory:' needs none of these.
 */
export function checkSqliteLocation(path: string, flag = '--db'): void {
  if (path === ':memory:') return;
  const file = resolve(path);
  const dir = dirname(file);
  const dirStat = statOrUndefined(dir);
  if (dirStat === 'EACCES') {
    throw new DatabaseLocationError(
      `cannot use the database ${file}: ${whoAmI()} may not enter the directory ${dir} (a directory on the way lacks the x permission) — give that user access (chmod o+x, or chown), or pass another ${flag}`,
    );
  }
  if (!dirStat) {
    throw new DatabaseLocationError(`cannot use the database ${file}: the directory ${dir} does not exist — create it (mkdir -p ${dir}) or pass another ${flag}`);
  }
  if (!dirStat.isDirectory()) {
    throw new DatabaseLocationError(`cannot use the database ${file}: ${dir} is not a directory — pass a ${flag} path inside a directory`);
  }
  const fileStat = statOrUndefined(file);
  if (typeof fileStat === 'object' && fileStat.isDirectory()) {
    throw new DatabaseLocationError(`cannot use the database ${file}: it is a directory — pass the path of a file inside it, e.g. ${flag} ${file}/tinychat.db`);
  }
  const readOnlyDisk = (where: string) =>
    new DatabaseLocationError(
      `cannot use the database ${file}: the filesystem holding ${where} is mounted read-only — remount it read-write, or pass a ${flag} on a writable disk`,
    );
  const fileDenied = fileStat ? writeDenied(file) : undefined;
  if (fileDenied === 'EROFS') throw readOnlyDisk(file);
  if (fileDenied) {
    throw new DatabaseLocationError(
      `cannot use the database ${file}: the file is read-only for ${whoAmI()} — give that user write access to it (chown or chmod), or pass another ${flag}`,
    );
  }
  const dirDenied = writeDenied(dir);
  if (dirDenied === 'EROFS') throw readOnlyDisk(dir);
  if (dirDenied) {
    throw new DatabaseLocationError(
      `cannot use the database ${file}: the directory ${dir} is read-only for ${whoAmI()}, and SQLite writes ${basename(file)}-wal and ${basename(file)}-shm beside the file — give that user write access to the directory (chown or chmod), or pass another ${flag}`,
    );
  }
  const free = freeBytes(dir);
  if (free !== undefined && free < MIN_FREE_BYTES) {
    throw new DatabaseLocationError(fullMessage(file, dir, free, flag));
  }
}

/**
 * Turns a failure while opening or first writing the database at `path`
 * into one sentence naming it, what is wrong and what to do. Failures it
 * cannot place are returned as they are.
 */
export function explainSqliteFailure(path: string, err: unknown, flag = '--db'): Error {
  if (err instanceof DatabaseLocationError) return err;
  const file = resolve(path);
  const code = sqliteCode(err);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new DatabaseLocationError(
      `cannot use the database ${file}: another process holds a lock on it — is a second tinychat serve, or a tool with an open transaction, using this file? Stop it and start again, or pass another ${flag}`,
    );
  }
  if (code.startsWith('SQLITE_FULL') || /ENOSPC/.test(String(err))) {
    const dir = dirname(file);
    return new DatabaseLocationError(fullMessage(file, dir, freeBytes(dir), flag));
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR')) {
    try {
      // The filesystem may have changed under us (or be mounted read-only): say what it is now.
      checkSqliteLocation(path, flag);
    } catch (located) {
      return located as Error;
    }
    return new DatabaseLocationError(
      `cannot use the database ${file}: SQLite says ${code} (${innerMessage(err)}) — check the disk and the file's permissions, or pass another ${flag}`,
    );
  }
  if (code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT')) {
    return new DatabaseLocationError(
      `cannot use the database ${file}: it is not an SQLite database or it is damaged — point ${flag} at the right file, or restore a backup (tinychat restore)`,
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

function fullMessage(file: string, dir: string, free: number | undefined, flag: string): string {
  const left = free === undefined ? '' : ` (${free} bytes free)`;
  return `cannot use the database ${file}: the disk holding ${dir} is full${left} — free some space there, or move the database to a disk with room and pass its new ${flag}`;
}

/** The SQLite result code behind `err`, also when the store wrapped it in a ChatError. */
function sqliteCode(err: unknown): string {
  const inner = isChatError(err) && err.cause !== undefined ? err.cause : err;
  return inner instanceof Database.SqliteError ? inner.code : '';
}

function innerMessage(err: unknown): string {
  const inner = isChatError(err) && err.cause !== undefined ? err.cause : err;
  return inner instanceof Error ? inner.message : String(inner);
}

/** The file's stat; 'EACCES' when a directory on the way may not be entered; undefined when it does not exist. */
function statOrUndefined(path: string): Stats | 'EACCES' | undefined {
  try {
    return statSync(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES' ? 'EACCES' : undefined;
  }
}

/** Why this process may not write `path` ('EACCES', 'EROFS', …), or undefined when it may. */
function writeDenied(path: string): string | undefined {
  try {
    accessSync(path, constants.W_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EACCES';
  }
}

function freeBytes(dir: string): number | undefined {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

/** "user tinychat (uid 998)": whose permissions count. */
function whoAmI(): string {
  const uid = process.getuid?.();
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = undefined;
  }
  return uid === undefined ? 'this user' : `user ${name ?? uid} (uid ${uid})`;
}
