import { codePointWidth } from './text-width';

// The screen library decides from its own width table whether a cell holds a
// two-column character (and so whether the terminal's cursor moved two
// columns). That table dates from Unicode 5 and counts emoji such as ✅ or 😀
// as one column where terminals draw two, which would shift the rest of the
// row; it is replaced here by the widths this client lays text out with.
interface LibraryUnicode {
  charWidth(text: string | number, index?: number): number;
  codePointAt(text: string, index: number): number;
}

let installed = false;

/**
 * Makes the screen library measure characters as codePointWidth() does, so
 * that what the layout wraps to N columns also takes N columns on screen.
 * Idempotent; call before the first screen is drawn.
 */
export function useTerminalWidths(): void {
  if (installed) return;
  installed = true;
  const unicode = require('blessed/lib/unicode') as LibraryUnicode;
  const original = unicode.charWidth.bind(unicode);
  unicode.charWidth = (text, index) => {
    const codePoint = typeof text === 'number' ? text : unicode.codePointAt(text, index ?? 0);
    // Below U+0300 the library also handles tabs and control characters its own way.
    return codePoint >= 0x300 ? codePointWidth(codePoint) : original(text, index);
  };
}
