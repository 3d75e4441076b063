import { ChatError } from './errors';
import { quoted } from './names';

/** A command split into its upper-case name (with slash) and arguments. */
export interface ParsedCommand {
  name: string;
  args: string[];
  /** Everything after the name, as typed (trimmed), for commands whose last argument may hold spaces. */
  rest?: string;
}

/** Longest command line accepted, in characters. */
export const MAX_COMMAND_LINE = 1024;

/** Splits "/start bob" into { name: "/START", args: ["bob"] }. */
export function parseCommandLine(line: string): ParsedCommand {
  if (line.length > MAX_COMMAND_LINE) {
    throw new ChatError('invalid-argument', `the command is too long: at most ${MAX_COMMAND_LINE} characters`);
  }
  const words = line.trim().split(/\s+/).filter((word) => word.length > 0);
  if (words.length === 0) {
    throw new ChatError('invalid-argument', 'the command is empty — type /COMMANDS to see every command');
  }
  if (!words[0].startsWith('/')) {
    throw new ChatError(
      'invalid-argument',
      `${quoted(words[0])} is not a command: commands start with "/" (type /COMMANDS to see them); messages are sent on the Converse stream`,
    );
  }
  const rest = line.trim().slice(words[0].length).trim();
  return { name: normalizeCommandName(words[0]), args: words.slice(1), rest };
}

/** "start", "/Start" → "/START". */
export function normalizeCommandName(name: string): string {
  const bare = name.startsWith('/') ? name.slice(1) : name;
  return `/${bare.toUpperCase()}`;
}
