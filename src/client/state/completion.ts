import { nameKey } from '../../chat/names';

/** What Tab can complete to. */
export interface CompletionSources {
  /** Command names with their slash, e.g. "/START". */
  commands: readonly string[];
  /** User names in their registered spelling, and room names with their "#". */
  names: readonly string[];
  /** Local paths that start with what was typed, for /SEND's argument (folders end in "/"). */
  paths?: (typed: string) => string[];
}

/** The text left of the cursor after a Tab, and what else Tab would offer. */
export interface Completed {
  /** The new text left of the cursor. */
  before: string;
  /** Every candidate, in the order Tab cycles through them. */
  candidates: string[];
  /** The candidate now in the text. */
  index: number;
}

/** Commands whose first argument is a user or room name. */
const NAME_ARGUMENT = new Set(['/START', '/HISTORY', '/JOIN', '/LEAVE', '/MEMBERS', '/INVITE', '/KICK']);

interface Cycle {
  base: string;
  candidates: string[];
  index: number;
  result: string;
}

function sameCaseAs(typed: string, candidate: string): string {
  // "/st" completes to "/start": a person typing lower case keeps it.
  const letters = typed.replace(/[^A-Za-z]/g, '');
  return letters !== '' && letters === letters.toLowerCase() ? candidate.toLowerCase() : candidate;
}

/** A completion and the space after it; a folder gets none, so Tab can go on into it. */
function withSpace(candidate: string): string {
  return candidate.endsWith('/') ? candidate : `${candidate} `;
}

function uniqueSorted(names: readonly string[]): string[] {
  const byKey = new Map<string, string>();
  for (const name of names) if (!byKey.has(nameKey(name))) byKey.set(nameKey(name), name);
  return [...byKey.values()].sort((a, b) => nameKey(a).localeCompare(nameKey(b)));
}

/**
 * Tab completion of command names (at the start of the line) and user names
 * (anywhere else), case-insensitive. With several candidates, each further
 * Tab cycles to the next one (Shift-Tab to the previous); any other key ends
 * the cycle (call reset()).
 */
export class Completer {
  private cycle: Cycle | undefined;

  /** Forgets the current cycle: the next Tab completes afresh. */
  reset(): void {
    this.cycle = undefined;
  }

  /** Completes the word that ends at the cursor; undefined when nothing matches. */
  complete(before: string, sources: CompletionSources, backwards = false): Completed | undefined {
    const cycle = this.cycle;
    if (cycle && cycle.result === before && cycle.candidates.length > 1) {
      const n = cycle.candidates.length;
      cycle.index = (cycle.index + (backwards ? n - 1 : 1)) % n;
      cycle.result = cycle.base + withSpace(cycle.candidates[cycle.index]);
      return { before: cycle.result, candidates: cycle.candidates, index: cycle.index };
    }
    this.cycle = undefined;
    const start = before.search(/\S*$/);
    const word = before.slice(start);
    const base = before.slice(0, start);
    const candidates = this.candidatesFor(base, word, sources);
    if (candidates.length === 0) return undefined;
    const index = backwards ? candidates.length - 1 : 0;
    const result = base + withSpace(candidates[index]);
    this.cycle = { base, candidates, index, result };
    return { before: result, candidates, index };
  }

  private candidatesFor(base: string, word: string, sources: CompletionSources): string[] {
    if (sources.paths && /^\s*\/SEND\s+$/i.test(base)) return sources.paths(word);
    if (base.trim() === '' && word.startsWith('/') && !word.startsWith('//')) {
      const typed = word.toUpperCase();
      return uniqueSorted(sources.commands)
        .filter((command) => command.toUpperCase().startsWith(typed))
        .map((command) => sameCaseAs(word, command));
    }
    if (word === '') {
      // An empty word completes only where a name is expected: "/START ".
      const words = base.trim().split(/\s+/);
      if (words.length !== 1 || !NAME_ARGUMENT.has(words[0].toUpperCase())) return [];
    }
    // "@bo" completes to a mention of a person, never of a room.
    if (word.startsWith('@')) {
      const typed = nameKey(word.slice(1));
      return uniqueSorted(sources.names)
        .filter((name) => !name.startsWith('#') && nameKey(name).startsWith(typed))
        .map((name) => `@${name}`);
    }
    const typed = nameKey(word);
    return uniqueSorted(sources.names).filter((name) => nameKey(name).startsWith(typed));
  }
}
