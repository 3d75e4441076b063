import * as blessed from 'blessed';
import { graphemes } from '../state/line-editor';
import type { Style, StyledLine } from './styled-line';
import { graphemeWidth } from './text-width';

/** A box that shows styled rows exactly as laid out. */
export interface Canvas {
  box: blessed.Widgets.BoxElement;
  /** The rows to show from the top of the box's inner area; rows beyond its height are not shown. */
  setRows(rows: readonly StyledLine[]): void;
}

type Cell = [number, string];

/** The escape sequence that moves the terminal's cursor to column `x` (0-based) of its row. */
function cha(x: number): string {
  return `\x1b[${x + 1}G`;
}

const SEQUENCE_CELL = /^ {2}\x1b\[\d+G(.+)\x1b\[\d+G$/su;

/** What a cell at column `x` holds to show an emoji sequence (see putSequence below). */
function sequenceCell(x: number, grapheme: string): string {
  return `  ${cha(x)}${grapheme}${cha(x + 2)}`;
}

/** The grapheme a cell shows: its text, or the emoji of a cell that holds a sequence. */
export function cellGrapheme(cell: string): string {
  return SEQUENCE_CELL.exec(cell)?.[1] ?? cell;
}

/** True for a grapheme of more than one code point. */
function isSequence(grapheme: string): boolean {
  const first = grapheme.codePointAt(0)!;
  return grapheme.length > (first > 0xffff ? 2 : 1);
}
type Row = Cell[] & { dirty?: boolean };

/**
 * A box whose rows are written straight into the screen's cells, one
 * grapheme per cell (two cells for wide ones, combining marks in their
 * base's cell), so what the layout measured is what the terminal shows. The
 * library's own content handling counts UTF-16 units and would cut or shift
 * rows with emoji; it is not used for these boxes.
 */
export function createCanvas(screen: blessed.Widgets.Screen, options: blessed.Widgets.BoxOptions = {}): Canvas {
  const box = blessed.box({ parent: screen, ...options, content: '' });
  let rows: readonly StyledLine[] = [];
  const attrs = new Map<string, number>();
  const attrOf = (style: Style | undefined): number => {
    const key = style ? JSON.stringify(style) : '';
    let attr = attrs.get(key);
    if (attr === undefined) {
      const base = (box.style ?? {}) as Style;
      attr = (box as unknown as { sattr(style: object): number }).sattr({ ...base, ...style, fg: style?.fg ?? base.fg, bg: style?.bg ?? base.bg });
      attrs.set(key, attr);
    }
    return attr;
  };

  const renderBox = box.render.bind(box) as () => { xi: number; xl: number; yi: number; yl: number } | undefined;
  box.render = (() => {
    const coords = renderBox();
    if (!coords) return coords;
    const lines = (screen as unknown as { lines: Row[] }).lines;
    // Inner offsets: border and padding.
    const inset = box as unknown as { ileft: number; iright: number; itop: number; ibottom: number };
    const left = coords.xi + inset.ileft;
    const right = coords.xl - inset.iright;
    const top = coords.yi + inset.itop;
    const bottom = coords.yl - inset.ibottom;
    rows.forEach((row, r) => {
      const y = top + r;
      const line = lines[y];
      if (y >= bottom || !line) return;
      let x = left;
      const put = (at: number, attr: number, ch: string) => {
        const cell = line[at];
        if (!cell || (cell[0] === attr && cell[1] === ch)) return;
        cell[0] = attr;
        cell[1] = ch;
        line.dirty = true;
      };
      // Terminals disagree on the width of emoji made of several code points
      // (tmux 3.3 draws a skin-toned thumb four columns wide, and a symbol
      // with the emoji selector one). Whatever the terminal does, the cell
      // is written as: two blanks, back to its column, the emoji, then to the
      // column two further on, where this layout continues. What a wider
      // drawing spills into the next two cells is overwritten on every
      // draw; near the right edge, where it would wrap, only the first code
      // point is drawn.
      const putSequence = (at: number, attr: number, grapheme: string) => {
        const olines = (screen as unknown as { olines: Row[] }).olines;
        const columns = screen.width as number;
        const shown = at + 4 <= columns ? grapheme : String.fromCodePoint(grapheme.codePointAt(0)!);
        put(at, attr, sequenceCell(at, shown));
        for (const spill of [at + 2, at + 3]) {
          const drawn = olines[y]?.[spill];
          if (drawn) drawn[1] = '\0';
        }
        line.dirty = true;
      };
      for (const segment of row) {
        const attr = attrOf(segment.style);
        for (const grapheme of graphemes(segment.text)) {
          const width = graphemeWidth(grapheme);
          if (width === 0) continue;
          if (x + width > right) return;
          if (width === 2 && isSequence(grapheme)) putSequence(x, attr, grapheme);
          else put(x, attr, grapheme);
          if (width === 2) put(x + 1, attr, ' ');
          x += width;
        }
      }
    });
    return coords;
  }) as typeof box.render;

  return {
    box,
    setRows(next) {
      rows = next;
    },
  };
}
