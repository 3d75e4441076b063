import { isRoomName } from '../chat/room-names';

/** Room commands that act on one room, which the clients fill in when it is left out. */
const ROOM_FIRST = new Set(['/LEAVE', '/MEMBERS', '/TOPIC', '/INVITE', '/KICK']);

/**
 * The command line to send for what a person typed while `shown` is on
 * screen: `/LEAVE`, `/MEMBERS`, `/TOPIC text`, `/INVITE name` and `/KICK name`
 * typed without a room act on the room shown (when a room is shown); any
 * other line is sent as typed.
 */
export function withShownRoom(line: string, shown: string | undefined): string {
  const trimmed = line.trim();
  const match = /^(\/\S+)(\s+(.*))?$/s.exec(trimmed);
  if (!match || !shown || !isRoomName(shown)) return line;
  const name = match[1].toUpperCase();
  const rest = match[3] ?? '';
  if (!ROOM_FIRST.has(name) || isRoomName(rest.split(/\s+/, 1)[0] ?? '')) return line;
  return rest ? `${match[1]} ${shown} ${rest}` : `${match[1]} ${shown}`;
}
