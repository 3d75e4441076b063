import { roomEntryText } from '../chat/room-text';
import { formatBytes } from '../files/sizes';
import { MessageKind, RoomEvent, type FileInfo, type Message } from '../gen/tinychat/v1/chat';
import type { RoomEventKind } from '../store/room-event';
import type { ConnectionState, StateChange } from './events';

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** The local time of day as HH:MM:SS. */
export function formatClock(time: Date): string {
  return `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`;
}

/**
 * Text from other people made safe for a terminal: control characters (which
 * could move the cursor, change colours or fake other lines) become U+FFFD;
 * tabs stay.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, '\ufffd');
}

/**
 * One message as one line, exactly `[HH:MM:SS] sender: body` in local time,
 * as the README documents it, so scripts can split it; an action (/ME) is
 * `[HH:MM:SS] * sender action` (a name never holds "*" nor a space, so the
 * two never mix up); a room entry is `[HH:MM:SS] #room sender: body`
 * (`#room -- bob joined` for a join, leave, kick or topic). Copies of the
 * reader's own sends from another terminal
 * look the same: the sender is the reader.
 */
export function formatMessage(message: Message): string {
  const clock = `[${formatClock(message.time ?? new Date())}]`;
  if (message.room) {
    const text = roomEntryText({
      sender: printable(message.sender),
      body: printable(message.body),
      event: roomEventKind(message.roomEvent),
      action: message.kind === MessageKind.MESSAGE_KIND_ACTION,
    });
    return `${clock} ${printable(message.room)} ${text}`;
  }
  if (message.kind === MessageKind.MESSAGE_KIND_ACTION) return `${clock} * ${printable(message.sender)} ${printable(message.body)}`;
  return `${clock} ${printable(message.sender)}: ${printable(messageText(message))}`;
}

/** A wire RoomEvent as the domain's name for it ('message' for anything else). */
export function roomEventKind(event: RoomEvent): RoomEventKind {
  switch (event) {
    case RoomEvent.ROOM_EVENT_JOINED:
      return 'joined';
    case RoomEvent.ROOM_EVENT_LEFT:
      return 'left';
    case RoomEvent.ROOM_EVENT_KICKED:
      return 'kicked';
    case RoomEvent.ROOM_EVENT_TOPIC:
      return 'topic';
    default:
      return 'message';
  }
}

/**
 * What a message says: its body, or for a file message "[file] name (size,
 * type)" and the sender's caption, if any.
 */
export function messageText(message: Message): string {
  return message.file ? fileText(message.file, message.body) : message.body;
}

/** A file message's text: "[file] name (size, type)", then the sender's caption if there is one. */
export function fileText(file: FileInfo, body: string): string {
  const label = `[file] ${file.name} (${formatBytes(file.size)}${file.mediaType ? `, ${file.mediaType}` : ''})`;
  return body === file.name || body === '' ? label : `${label} ${body}`;
}

/** A delay for people: "0.3s" below a second, whole seconds above. */
export function formatDelay(ms: number): string {
  return ms < 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/**
 * One short line about a connection state change, or undefined when the
 * change is not worth a line (attempts in progress, the first connect, the
 * final close). `previous` is the state before the change.
 */
export function formatStateChange(change: StateChange, previous: ConnectionState): string | undefined {
  switch (change.state) {
    case 'reconnecting': {
      if ((change.delayMs ?? 0) <= 0 && change.server) {
        // Moving to the next of several addresses at once: say where.
        const why = change.reason ? `${change.reason.replace(/[.?!]$/, '')} — ` : '';
        return `${why}trying ${change.server}`;
      }
      const wait = formatDelay(change.delayMs ?? 0);
      if (previous === 'connected') return `connection lost — reconnecting in ${wait}`;
      // Not connected yet: the reason (e.g. "cannot reach … running?") says what to check meanwhile.
      if (!change.reconnect) return `${change.reason ?? 'cannot connect'}${/[.?!]$/.test(change.reason ?? '') ? '' : ' —'} retrying in ${wait}`;
      return `still disconnected${change.reason ? ` (${change.reason})` : ''} — retrying in ${wait}`;
    }
    case 'connected':
      return change.reconnect ? `reconnected${change.node ? ` to ${change.node}` : ''}` : undefined;
    default:
      return undefined;
  }
}
