// East Asian widths from the Unicode data, kept current by its maintainers.
// (An ES module; Node 20.19 and later load it with require.)
import { eastAsianWidth } from 'get-east-asian-width';
import { graphemes } from '../state/line-editor';

// Marks, invisible format characters and Hangul medial vowels: drawn on the character before.
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\u1160-\u11ff]+$/u;
// Built at run time: the `v` flag is newer than the compile target.
const RGI_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
const PICTOGRAPHIC = /^[\p{Extended_Pictographic}\p{Regional_Indicator}]/u;
const ASCII = /^[\x20-\x7e]*$/;

/**
 * Columns a terminal gives one grapheme (what graphemes() returns): 0 for
 * control characters and lone combining marks or joiners, 2 for an emoji
 * (a skin tone, a family joined by ZWJ, a flag, a symbol with the emoji
 * selector: one emoji, two columns) and for East Asian wide characters,
 * 1 otherwise. This is the one measure of text on the screen: every view
 * lays text out with it, and the screen library is made to use it too.
 */
export function graphemeWidth(grapheme: string): 0 | 1 | 2 {
  const first = grapheme.codePointAt(0);
  if (first === undefined || first < 0x20 || (first >= 0x7f && first < 0xa0)) return 0;
  if (first < 0x300) return grapheme.length === 1 || !grapheme.includes('\ufe0f') ? 1 : 2;
  if (ZERO_WIDTH.test(grapheme)) return 0;
  if (RGI_EMOJI.test(grapheme)) return 2;
  // Half-typed sequences and emoji the list does not name yet still draw as one emoji.
  if (PICTOGRAPHIC.test(grapheme) && (first > 0xffff || grapheme.includes('\ufe0f'))) return 2;
  return eastAsianWidth(first) === 2 ? 2 : 1;
}

/** Columns a string takes in a terminal: the sum over its graphemes. */
export function textWidth(text: string): number {
  if (ASCII.test(text)) return text.length;
  let width = 0;
  for (const grapheme of graphemes(text)) width += graphemeWidth(grapheme);
  return width;
}

/** The longest start of `text` that fits in `width` columns, cut between graphemes. */
export function cutToWidth(text: string, width: number): string {
  let used = 0;
  let out = '';
  for (const grapheme of graphemes(text)) {
    const w = graphemeWidth(grapheme);
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
      const gw = graphemeWidth(grapheme);
      if (used + gw > limit) flush();
      line += grapheme;
      used += gw;
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line.trimEnd());
  return lines;
}
