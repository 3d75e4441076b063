import { graphemes } from '../state/line-editor';

// East Asian Wide and Fullwidth ranges of the Basic Multilingual Plane that
// terminals draw two columns wide. Emoji with emoji presentation are added by
// property below; everything past the BMP is counted as wide (see
// codePointWidth).
const WIDE_BMP: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x2329, 0x232a],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
];

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\u1160-\u11ff]$/u;
const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}$/u;

/**
 * Columns a terminal gives one code point: 0 for combining marks and
 * invisible format characters, 2 for East Asian wide characters and emoji,
 * 1 otherwise. Code points past U+FFFF other than marks count 2: most are
 * emoji or CJK, and the screen library reserves two cells for them too.
 */
export function codePointWidth(codePoint: number): 0 | 1 | 2 {
  if (codePoint < 0x300) return codePoint < 0x20 || (codePoint >= 0x7f && codePoint < 0xa0) ? 0 : 1;
  const char = String.fromCodePoint(codePoint);
  if (ZERO_WIDTH.test(char)) return 0;
  if (codePoint > 0xffff) return 2;
  if (EMOJI_PRESENTATION.test(char)) return 2;
  for (const [low, high] of WIDE_BMP) {
    if (codePoint < low) break;
    if (codePoint <= high) return 2;
  }
  return 1;
}

/** Columns a string takes in a terminal. */
export function textWidth(text: string): number {
  let width = 0;
  for (const char of text) width += codePointWidth(char.codePointAt(0)!);
  return width;
}

/** The longest start of `text` that fits in `width` columns, cut between graphemes. */
export function cutToWidth(text: string, width: number): string {
  let used = 0;
  let out = '';
  for (const grapheme of graphemes(text)) {
    const w = textWidth(grapheme);
    if (used + w > width) break;
    used += w;
    out += grapheme;
  }
  return out;
}

/** `text` cut to `width` columns with "…" when it does not fit. */
export function truncate(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  if (width <= 0) return '';
  return `${cutToWidth(text, width - 1)}…`;
}

/** `text` padded with spaces to exactly `width` columns (cut with "…" when longer). */
export function padTo(text: string, width: number): string {
  const cut = truncate(text, width);
  return cut + ' '.repeat(Math.max(0, width - textWidth(cut)));
}

/**
 * Word-wraps text to lines of at most `width` columns: breaks at spaces,
 * and inside a word only when the word alone is too long. Wide characters
 * count two columns. Always returns at least one line.
 */
export function wrapText(text: string, width: number): string[] {
  const limit = Math.max(1, width);
  const lines: string[] = [];
  let line = '';
  let used = 0;
  const flush = () => {
    lines.push(line.trimEnd());
    line = '';
    used = 0;
  };
  for (const token of text.match(/\s+|\S+/g) ?? []) {
    const w = textWidth(token);
    if (/^\s/.test(token)) {
      // Spaces at a break vanish; elsewhere they stay.
      if (used === 0 && lines.length > 0) continue;
      if (used + w > limit) {
        flush();
        continue;
      }
      line += token;
      used += w;
      continue;
    }
    if (used + w <= limit) {
      line += token;
      used += w;
      continue;
    }
    if (w <= limit) {
      flush();
      line = token;
      used = w;
      continue;
    }
    for (const grapheme of graphemes(token)) {
      const gw = textWidth(grapheme);
      if (used + gw > limit) flush();
      line += grapheme;
      used += gw;
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line.trimEnd());
  return lines;
}
