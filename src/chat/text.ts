import { roomEntryText } from './room-text';
import { formatBytes } from '../files/sizes';
import type { StoredMessage } from '../store/store';

/**
 * "2026-11-26 13:05:09 UTC". Command texts are read by people in any time
 * zone, so they say UTC; clients that know the reader's zone use the typed
 * result instead.
 */
export function dateTime(time: number): string {
  return `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** One message as a line of text, the way every client prints it. */
export function messageLine(message: StoredMessage): string {
  if (message.room !== undefined) {
    const text = roomEntryText({ sender: message.sender, body: message.body, event: message.roomEvent ?? 'message', action: message.kind === 'action' });
    return `[${dateTime(message.time)}] ${message.room} ${text}`;
  }
  if (message.file) return `[${dateTime(message.time)}] ${message.sender}: ${fileLabel(message)}`;
  if (message.kind === 'action') return `[${dateTime(message.time)}] * ${message.sender} ${message.body}`;
  return `[${dateTime(message.time)}] ${message.sender}: ${message.body}`;
}

/** "report.pdf (1.2 MiB)", with the sender's caption after it when there is one. */
export function fileLabel(message: StoredMessage): string {
  const file = message.file!;
  const label = `[file] ${file.name} (${formatBytes(file.size)}${file.mediaType ? `, ${file.mediaType}` : ''})`;
  return message.body === file.name ? label : `${label} ${message.body}`;
}
