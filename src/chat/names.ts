import { ChatError } from './errors';

/** Longest allowed user name, in characters. */
export const MAX_NAME_LENGTH = 32;

const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;

/**
 * Checks a user name: 1–32 characters of ASCII letters, digits, `_`, `.` or
 * `-`. Returns the name unchanged or throws INVALID_ARGUMENT saying why.
 */
export function validateName(name: string): string {
  if (name.length === 0) {
    throw new ChatError('invalid-argument', 'a user name is required: 1 to 32 letters, digits, "_", "." or "-"');
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new ChatError('invalid-argument', `${quoted(name)} is too long: user names are at most ${MAX_NAME_LENGTH} characters`);
  }
  if (!NAME_PATTERN.test(name)) {
    throw new ChatError(
      'invalid-argument',
      `${quoted(name)} is not a valid user name: use only letters, digits, "_", "." or "-" (1 to ${MAX_NAME_LENGTH} characters)`,
    );
  }
  return name;
}

/** Quotes user input for an error message, cut to 40 characters so errors stay readable. */
export function quoted(text: string): string {
  if (text.length <= 40) return `"${text}"`;
  // Never cut a surrogate pair in half: half a character is not text.
  const end = /[\uD800-\uDBFF]/.test(text[39]) ? 39 : 40;
  return `"${text.slice(0, end)}…"`;
}

/** The case-insensitive key under which a name is unique ("Bob" and "bob" are one user). */
export function nameKey(name: string): string {
  return name.toLowerCase();
}
