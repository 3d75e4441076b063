import type { FileRef, StoredMessage } from './store';

/** A message row as both backends select it: `file` is JSON text (SQLite), an object (PostgreSQL jsonb) or null. */
export type MessageRow = Omit<StoredMessage, 'file'> & { file: string | FileRef | null };

/**
 * A selected row as a StoredMessage: the file column parsed, and left out
 * when null so that text messages look exactly as they did before files.
 */
export function messageFromRow<Row extends { file: string | FileRef | null }>(row: Row): Omit<Row, 'file'> & { file?: FileRef } {
  const { file, ...message } = row;
  if (file === null || file === undefined) return message;
  return { ...message, file: typeof file === 'string' ? (JSON.parse(file) as FileRef) : file };
}

/** The file column's value for a new message: JSON text, or null for a text message. */
export function fileColumn(file: FileRef | undefined): string | null {
  return file ? JSON.stringify({ name: file.name, size: file.size, sha256: file.sha256, mediaType: file.mediaType }) : null;
}
