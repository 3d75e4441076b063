import type { StoredMessage } from '../store/store';

const pad = (n: number) => String(n).padStart(2, '0');

/** "13:05:09" in the server's local time. */
export function clockTime(time: number): string {
  const d = new Date(time);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "2026-11-26 13:05:09" in the server's local time. */
export function dateTime(time: number): string {
  const d = new Date(time);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clockTime(time)}`;
}

/** One message as a line of text, the way every client prints it. */
export function messageLine(message: StoredMessage): string {
  return `[${dateTime(message.time)}] ${message.sender}: ${message.body}`;
}
