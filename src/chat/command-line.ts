import { ChatError } from './errors';
import { quoted } from './names';

/** A typed command line split into its upper-case name (with slash) and the text after it. */
export interface ParsedCommand {
  name: string;
  /** Everything after the name, as typed (trimmed at both ends). */
  rest: string;
}

/** Longest command line accepted, in characters. */
export const MAX_COMMAND_LINE = 1024;

/** Splits "/start bob" into { name: "/START", rest: "bob" }. */
export function parseCommandLine(line: string): ParsedCommand {
  if (line.length > MAX_COMMAND_LINE) {
    throw new ChatError('invalid-argument', `the command is too long: at most ${MAX_COMMAND_LINE} characters`);
  }
  const trimmed = line.trim();
  const first = trimmed.split(/\s/, 1)[0];
  if (first === '') {
    throw new ChatError('invalid-argument', 'the command is empty — type /COMMANDS to see every command');
  }
  if (!first.startsWith('/')) {
    throw new ChatError(
      'invalid-argument',
      `${quoted(first)} is not a command: commands start with "/" (type /COMMANDS to see them); messages are sent on the Converse stream`,
    );
  }
  return { name: normalizeCommandName(first), rest: trimmed.slice(first.length).trim() };
}

/**
 * Splits arguments at whitespace, except inside double quotes, as a shell
 * does: `"old pass" new` is two arguments, `a"b c"` one ("ab c"). Inside
 * quotes, \" is a quote and \\ a backslash; elsewhere a backslash is itself.
 */
export function splitArguments(text: string): string[] {
  const args: string[] = [];
  let current = '';
  let inWord = false;
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inQuotes) {
      if (char === '"') inQuotes = false;
      else if (char === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) current += text[++i];
      else current += char;
    } else if (char === '"') {
      inQuotes = true;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) args.push(current);
      current = '';
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (inQuotes) {
    throw new ChatError(
      'invalid-argument',
      'a quote (") is opened but never closed — put quotes around an argument with spaces, and write \\" for a quote inside it',
    );
  }
  if (inWord) args.push(current);
  return args;
}

/**
 * Splits off the first `count - 1` words and keeps the rest of the line as
 * the last argument, spaces and quotes included (/LOGIN's password).
 */
export function splitKeepingRest(text: string, count: number): string[] {
  const args: string[] = [];
  let rest = text.trim();
  while (args.length < count - 1 && rest !== '') {
    const word = rest.split(/\s/, 1)[0];
    args.push(word);
    rest = rest.slice(word.length).trim();
  }
  if (rest !== '') args.push(rest);
  return args;
}

/** "start", "/Start" → "/START". */
export function normalizeCommandName(name: string): string {
  const bare = name.startsWith('/') ? name.slice(1) : name;
  return `/${bare.toUpperCase()}`;
}
