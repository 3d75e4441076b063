import { ChatError } from '../chat/errors';
import type { RoomEventKind } from './room-store';
import type { StoredMessage } from './store';

/** A room entry row as both backends select it (room and event always set). */
export type RoomEntryRow = Omit<StoredMessage, 'room' | 'roomEvent'> & { room: string; roomEvent: string };

/** Room entry rows as StoredMessages. */
export function roomDeliveries(rows: RoomEntryRow[]): StoredMessage[] {
  return rows.map((row) => ({ ...row, roomEvent: row.roomEvent as RoomEventKind }));
}

/** An inbox row: a one-to-one message (room and roomEvent null) or a room entry. */
export type InboxRow = Omit<StoredMessage, 'room' | 'roomEvent'> & { room: string | null; roomEvent: string | null };

/**
 * Inbox rows from a union of one-to-one messages (room and roomEvent null)
 * and room entries: the nulls go, so a one-to-one message has the same shape
 * as before rooms existed.
 */
export function inboxRows(rows: InboxRow[]): StoredMessage[] {
  return rows.map(({ room, roomEvent, ...message }) =>
    room === null ? message : { ...message, room, roomEvent: (roomEvent ?? 'message') as RoomEventKind },
  );
}

/** The store's refusals about rooms, in one place for both backends. */
export const roomErrors = {
  notFound: (name: string) =>
    new ChatError('not-found', `there is no room ${name} you can join — check the name with /ROOMS, or ask a member to /INVITE you`),
  alreadyMember: (name: string) => new ChatError('failed-precondition', `you are already in ${name} — type a message to send it there`),
  full: (name: string, max: number) =>
    new ChatError('resource-exhausted', `${name} is full (${max} members) — ask its owner to make room, or join another room`),
  tooManyRooms: (max: number) => new ChatError('resource-exhausted', `you are in ${max} rooms already, the most allowed — /LEAVE one first`),
  notMember: (name: string, kicked: boolean) =>
    new ChatError('failed-precondition', kicked ? `that user is not in ${name} — /MEMBERS shows who is` : `you are not in ${name} — /ROOMS lists the rooms you are in`),
  notAllowed: (name: string) => new ChatError('permission-denied', `only members of ${name} can do that — /JOIN ${name} first`),
  noRoomId: (id: number) => new ChatError('not-found', `there is no room with id ${id}; check the name with /ROOMS and try again`),
};
