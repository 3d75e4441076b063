/**
 * Protobuf strings are UTF-8, but a lenient decoder turns every invalid byte
 * into U+FFFD, so two different byte strings ("id-\xff", "id-\xfe") become one
 * value: a retry key that merges two messages, a password that opens an
 * account it does not belong to. The server decodes strings strictly
 * instead: an invalid one comes out marked, and the rpc edge refuses the
 * request, naming the field, before anything reads it.
 */

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Starts every string that was not valid UTF-8. A lone surrogate can never
 * come out of decoding valid UTF-8, so the mark cannot be forged by a client.
 */
const INVALID_MARK = '\uDFFF';

/** Decodes UTF-8 for a protobuf reader: valid text as is, invalid bytes marked. */
export function decodeUtf8Marked(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    return INVALID_MARK + lenient.decode(bytes);
  }
}

/**
 * The proto field paths (e.g. "send.client_id", "invocation.args[1]") of
 * every string in a decoded message that was not valid UTF-8. Oneof groups
 * are left out of the path: on the wire they are not fields.
 */
export function invalidUtf8Fields(value: unknown, path = ''): string[] {
  // Every frame passes through here and nearly all are valid: a walk that
  // allocates nothing answers that, and only a marked frame pays for paths.
  return hasMarkedString(value) ? markedPaths(value, path) : [];
}

function hasMarkedString(value: unknown): boolean {
  if (typeof value === 'string') return value.startsWith(INVALID_MARK);
  if (value === null || typeof value !== 'object' || value instanceof Date || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (hasMarkedString(item)) return true;
    return false;
  }
  for (const key in value) {
    if (key !== '$case' && hasMarkedString((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

function markedPaths(value: unknown, path: string): string[] {
  if (typeof value === 'string') return value.startsWith(INVALID_MARK) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((item, index) => markedPaths(item, `${path}[${index}]`));
  if (value === null || typeof value !== 'object' || value instanceof Date || ArrayBuffer.isView(value)) return [];
  const found: string[] = [];
  for (const [key, field] of Object.entries(value)) {
    if (key === '$case') continue;
    const isOneof = field !== null && typeof field === 'object' && '$case' in field;
    const name = isOneof ? '' : snakeCase(key);
    const next = name === '' ? path : path === '' ? name : `${path}.${name}`;
    found.push(...markedPaths(field, next));
  }
  return found;
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
