/**
 * Topic names and how they become NATS subjects.
 *
 * A topic is one or more tokens joined by dots ("user.42.stored"); a token
 * is 1 or more ASCII letters, digits, `_`, `-` or `%`. That excludes what
 * NATS gives a meaning in subjects (spaces, `.` inside a token, the
 * wildcards `*` and `>`) and anything outside ASCII, so a topic can never
 * match more than itself. Values from elsewhere (names, ids) go into a
 * topic through `topicPart`, which escapes every other character as `%XX`
 * per UTF-8 byte, so distinct values give distinct tokens.
 *
 * On the server a topic is `<namespace>.<topic>`; the namespace follows the
 * same rules (it may have several tokens, such as "tinychat.test-1234").
 */

const TOKEN = /^[A-Za-z0-9_%-]+$/;
const UNESCAPED = /^[A-Za-z0-9_-]$/;

/** Longest topic, and longest namespace, in characters; NATS control lines are short. */
export const MAX_TOPIC_LENGTH = 200;
export const MAX_NAMESPACE_LENGTH = 100;

function problem(text: string, maxLength: number): string | undefined {
  if (text.length === 0) return 'it is empty';
  if (text.length > maxLength) return `it is longer than ${maxLength} characters`;
  for (const token of text.split('.')) {
    if (token.length === 0) return 'it has an empty token (a leading, trailing or double dot)';
    if (!TOKEN.test(token)) return `token "${token}" has a character other than A-Z a-z 0-9 _ - % (use topicPart for outside values)`;
  }
  return undefined;
}

/** Throws a TypeError naming what is wrong unless `topic` is a valid topic. */
export function checkTopic(topic: string): void {
  const why = typeof topic === 'string' ? problem(topic, MAX_TOPIC_LENGTH) : 'it is not a string';
  if (why) throw new TypeError(`invalid bus topic ${JSON.stringify(topic)}: ${why}`);
}

/** Throws a TypeError naming what is wrong unless `namespace` is a valid namespace. */
export function checkNamespace(namespace: string): void {
  const why = typeof namespace === 'string' ? problem(namespace, MAX_NAMESPACE_LENGTH) : 'it is not a string';
  if (why) throw new TypeError(`invalid bus namespace ${JSON.stringify(namespace)}: ${why}`);
}

/** The subject on the bus server for `topic` in `namespace`; both are checked. */
export function subjectOf(namespace: string, topic: string): string {
  checkNamespace(namespace);
  checkTopic(topic);
  return `${namespace}.${topic}`;
}

/**
 * One safe topic token for any non-empty string or safe integer: letters,
 * digits, `_` and `-` stay, everything else becomes `%XX` per UTF-8 byte
 * ("Ann Marie" → "Ann%20Marie", "a.b" → "a%2Eb"). Distinct well-formed
 * strings give distinct tokens. Throws a TypeError for an empty string or
 * other numbers.
 */
export function topicPart(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`a bus topic part must be a safe integer, not ${value}`);
    return String(value);
  }
  if (value.length === 0) throw new TypeError('a bus topic part cannot be empty');
  let out = '';
  for (const char of value) {
    if (UNESCAPED.test(char)) {
      out += char;
    } else {
      for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}
