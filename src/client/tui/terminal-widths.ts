import { graphemes } from '../state/line-editor';
import { cellGrapheme } from './canvas';
import { graphemeWidth } from './text-width';

// The screen library decides from its own width table whether a cell holds a
// two-column character (and so whether the terminal's cursor moved two
// columns). That table dates from Unicode 5, counts code points rather than
// graphemes, and counts emoji such as ✅ or 😀 as one column where terminals
// draw two, which would shift the rest of the row; it is replaced here by the
// width this client lays text out with.
interface LibraryUnicode {
  charWidth(text: string | number, index?: number): number;
}

// The longest cell text looked at: a ZWJ family or a region's flag, with the cursor moves around it.
const LONGEST_GRAPHEME = 48;

let installed = false;

/**
 * Makes the screen library measure characters as graphemeWidth() does, so
 * that what the layout wraps to N columns also takes N columns on screen.
 * The canvases put one grapheme in a cell, which is what the library then
 * measures. Idempotent; call before the first screen is drawn.
 */
export function useTerminalWidths(): void {
  if (installed) return;
  installed = true;
  const unicode = require('blessed/lib/unicode') as LibraryUnicode;
  const original = unicode.charWidth.bind(unicode);
  unicode.charWidth = (text, index) => {
    const start = index ?? 0;
    const grapheme =
      typeof text === 'number' ? String.fromCodePoint(text) : graphemes(cellGrapheme(text.slice(start, start + LONGEST_GRAPHEME)))[0] ?? '';
    // Below U+0300 the library also handles tabs and control characters its own way.
    return (grapheme.codePointAt(0) ?? 0) >= 0x300 ? graphemeWidth(grapheme) : original(text, index);
  };
}
