const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Splits text into graphemes: what a person sees as one character (an
 * emoji, a letter with its accent). Printable ASCII is one grapheme per
 * character, except a letter that a combining mark follows, so only the
 * other runs (with the character before each) go through the segmenter:
 * a long pasted text is split in a few milliseconds. (Prepend characters,
 * which join the character after them, are not handled for ASCII after them.)
 */
export function graphemes(text: string): string[] {
  const out: string[] = [];
  const other = /[^\x20-\x7e]+/g;
  let done = 0;
  for (let match = other.exec(text); match; match = other.exec(text)) {
    const start = match.index > done ? match.index - 1 : match.index;
    for (let i = done; i < start; i += 1) out.push(text[i]);
    for (const part of segmenter.segment(text.slice(start, match.index + match[0].length))) out.push(part.segment);
    done = match.index + match[0].length;
  }
  for (let i = done; i < text.length; i += 1) out.push(text[i]);
  return out;
}

// Longer insertions (a paste) are put in by copying, as a spread argument list has a limit.
const SPLICE_LIMIT = 1024;
const PLAIN = /^[\x20-\x7e]$/;

function isSpace(grapheme: string): boolean {
  return /^\s+$/.test(grapheme);
}

/**
 * The line being typed and the cursor in it, with the editing operations of
 * a shell prompt. Positions count graphemes, so an emoji or an accented
 * letter moves and deletes as one character even when it is several code
 * points long.
 */
export class LineEditor {
  private parts: string[] = [];
  private at = 0;

  constructor(text = '') {
    this.set(text);
  }

  /** The whole line. */
  get text(): string {
    return this.parts.join('');
  }

  /** The cursor, in graphemes from the start (0 … length). */
  get cursor(): number {
    return this.at;
  }

  /** The line split into graphemes. */
  get graphemes(): readonly string[] {
    return this.parts;
  }

  /** True when nothing is typed. */
  get isEmpty(): boolean {
    return this.parts.length === 0;
  }

  /** The text left of the cursor. */
  get beforeCursor(): string {
    return this.parts.slice(0, this.at).join('');
  }

  /** The text right of the cursor. */
  get afterCursor(): string {
    return this.parts.slice(this.at).join('');
  }

  /** Replaces the line; the cursor goes to the end unless `cursorAfter` says where (as text that ends at the cursor). */
  set(text: string, cursorAfter?: string): void {
    this.parts = graphemes(text);
    this.at = cursorAfter === undefined ? this.parts.length : Math.min(graphemes(cursorAfter).length, this.parts.length);
  }

  /** Empties the line and returns what it held. */
  clear(): string {
    const text = this.text;
    this.set('');
    return text;
  }

  /**
   * Types text at the cursor. The graphemes on either side of the cursor
   * are segmented again with it, so a combining mark typed after its letter
   * (or the second half of a surrogate pair) joins it; nothing further away
   * can join, so typing stays linear in the length of the line.
   */
  insert(text: string): void {
    if (text === '') return;
    if (this.standsAlone(text)) {
      this.parts.splice(this.at, 0, text);
      this.at += 1;
      return;
    }
    const start = Math.max(0, this.at - 1);
    const end = Math.min(this.parts.length, this.at + 1);
    const head = this.parts.slice(start, this.at).join('') + text;
    const joined = graphemes(head + this.parts.slice(this.at, end).join(''));
    // The cursor goes after the last grapheme that begins within what was typed.
    let covered = 0;
    let count = 0;
    while (count < joined.length && covered < head.length) covered += joined[count++].length;
    if (joined.length < SPLICE_LIMIT) this.parts.splice(start, end - start, ...joined);
    else this.parts = this.parts.slice(0, start).concat(joined, this.parts.slice(end));
    this.at = start + count;
  }

  /** Deletes the character left of the cursor. */
  backspace(): void {
    if (this.at === 0) return;
    this.parts.splice(this.at - 1, 1);
    this.at -= 1;
  }

  /** Deletes the character under the cursor. */
  deleteForward(): void {
    if (this.at < this.parts.length) this.parts.splice(this.at, 1);
  }

  left(): void {
    this.at = Math.max(0, this.at - 1);
  }

  right(): void {
    this.at = Math.min(this.parts.length, this.at + 1);
  }

  home(): void {
    this.at = 0;
  }

  end(): void {
    this.at = this.parts.length;
  }

  /** Moves to the start of the word left of the cursor. */
  wordLeft(): void {
    this.at = this.wordStart();
  }

  /** Moves past the end of the word right of the cursor. */
  wordRight(): void {
    let at = this.at;
    while (at < this.parts.length && isSpace(this.parts[at])) at += 1;
    while (at < this.parts.length && !isSpace(this.parts[at])) at += 1;
    this.at = at;
  }

  /** Deletes the word left of the cursor (Ctrl-W). */
  deleteWordBack(): void {
    const start = this.wordStart();
    this.parts.splice(start, this.at - start);
    this.at = start;
  }

  /** Deletes everything left of the cursor (Ctrl-U). */
  killToStart(): void {
    this.parts.splice(0, this.at);
    this.at = 0;
  }

  /** Deletes everything from the cursor on (Ctrl-K). */
  killToEnd(): void {
    this.parts.splice(this.at);
  }

  /**
   * True for one printable ASCII character between printable ASCII (or the
   * ends of the line): it is a grapheme of its own and joins nothing, so it
   * needs no segmenting — the common case of typing, kept cheap.
   */
  private standsAlone(text: string): boolean {
    if (!PLAIN.test(text)) return false;
    const before = this.parts[this.at - 1];
    const after = this.parts[this.at];
    return (before === undefined || PLAIN.test(before[before.length - 1])) && (after === undefined || PLAIN.test(after[0]));
  }

  private wordStart(): number {
    let at = this.at;
    while (at > 0 && isSpace(this.parts[at - 1])) at -= 1;
    while (at > 0 && !isSpace(this.parts[at - 1])) at -= 1;
    return at;
  }
}
