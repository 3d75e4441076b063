/** A line from the input, read: nothing, a message, or a command. */
export type TypedLine =
  | { kind: 'empty' }
  | { kind: 'message'; body: string }
  | {
      kind: 'command';
      /** Upper case, without the slash: "START". */
      name: string;
      args: string[];
      /** The line as typed, trimmed: what the server is sent. */
      line: string;
    };

/**
 * Reads one submitted line the way every TinyChat client does: a line
 * starting with `/` is a command, `//` starts a message that begins with
 * `/`, a blank line is nothing, anything else is a message as typed.
 */
export function readTypedLine(line: string): TypedLine {
  if (line.trim() === '') return { kind: 'empty' };
  if (line.startsWith('//')) return { kind: 'message', body: line.slice(1) };
  if (line.startsWith('/')) {
    const trimmed = line.trim();
    const [first, ...args] = trimmed.split(/\s+/);
    return { kind: 'command', name: first.slice(1).toUpperCase(), args, line: trimmed };
  }
  return { kind: 'message', body: line };
}
