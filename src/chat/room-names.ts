import { ChatError } from './errors';
import { quoted } from './names';

const ROOM_PATTERN = /^#[A-Za-z0-9_.-]{1,32}$/;

/** True when `name` is addressed as a room (starts with `#`); user names never do. */
export function isRoomName(name: string): boolean {
  return name.startsWith('#');
}

/**
 * Checks a room name: `#` and 1–32 ASCII letters, digits, `_`, `.` or `-`.
 * Returns it unchanged or throws INVALID_ARGUMENT saying why.
 */
export function validateRoomName(name: string): string {
  if (!ROOM_PATTERN.test(name)) {
    throw new ChatError(
      'invalid-argument',
      `${quoted(name)} is not a room name: use "#" and then 1 to 32 letters, digits, "_", "." or "-", e.g. #general`,
    );
  }
  return name;
}
