import type { LineEditor } from '../state/line-editor';
import { seg, fit, type StyledLine } from './styled-line';
import { textWidth, truncate } from './text-width';
import type { Theme } from './theme';

/** Rows the input area grows to before it scrolls. */
export const MAX_INPUT_ROWS = 5;

/** What the input area shows besides the text. */
export interface InputLayoutOptions {
  prompt: string;
  /** Shown, quiet, while nothing is typed. */
  placeholder: string;
  width: number;
  theme: Theme;
  /** Rows the area may take (MAX_INPUT_ROWS by default). */
  maxRows?: number;
  /** Graphemes from this index on are shown as dots (a password being typed). */
  secretFrom?: number;
}

/** The input area's rows and where the cursor goes in them. */
export interface InputArea {
  rows: StyledLine[];
  cursor: { row: number; col: number };
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The input area: a prompt, then the typed text wrapped to the width, with a
 * row for each line of a multi-line text, growing up to `maxRows` rows and
 * then showing the rows around the cursor. While nothing is typed, a quiet
 * placeholder. One pass over the text: linear in its length.
 */
export function layoutInput(editor: LineEditor, options: InputLayoutOptions): InputArea {
  const { width, theme } = options;
  const maxRows = Math.max(1, options.maxRows ?? MAX_INPUT_ROWS);
  const prompt = truncate(options.prompt, Math.max(0, width - 10));
  const indent = textWidth(prompt);
  if (editor.isEmpty) {
    return { rows: [fit([seg(prompt, theme.prompt), seg(options.placeholder, theme.quiet)], width)], cursor: { row: 0, col: indent } };
  }
  // One column is kept free for the cursor at the end of a full row.
  const room = Math.max(1, width - indent - 1);
  const secretFrom = options.secretFrom ?? Infinity;
  const lines: string[][] = [[]];
  let used = 0;
  let cursor = { row: 0, col: 0 };
  editor.graphemes.forEach((grapheme, i) => {
    if (i === editor.cursor) cursor = { row: lines.length - 1, col: used };
    if (grapheme === '\n' || grapheme === '\r\n' || grapheme === '\r') {
      lines.push([]);
      used = 0;
      return;
    }
    const shown = i >= secretFrom ? '•' : CONTROL.test(grapheme) ? '\ufffd' : grapheme;
    const w = textWidth(shown);
    if (used + w > room) {
      lines.push([]);
      used = 0;
    }
    lines[lines.length - 1].push(shown);
    used += w;
  });
  if (editor.cursor >= editor.graphemes.length) cursor = { row: lines.length - 1, col: used };
  // Past maxRows, the rows shown end at the cursor's.
  const first = Math.max(0, cursor.row - maxRows + 1);
  const shownLines = lines.slice(first, first + maxRows);
  const rows = shownLines.map((parts, r): StyledLine => {
    const head = first + r === 0 ? seg(prompt, theme.prompt) : seg(' '.repeat(indent));
    return [head, seg(parts.join(''))];
  });
  return { rows, cursor: { row: cursor.row - first, col: indent + cursor.col } };
}
