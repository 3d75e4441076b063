import * as blessed from 'blessed';
import { graphemes } from '../state/line-editor';
import type { Style, StyledLine } from './styled-line';
import { textWidth } from './text-width';

/** A box that shows styled rows exactly as laid out. */
export interface Canvas {
  box: blessed.Widgets.BoxElement;
  /** The rows to show from the top of the box's inner area; rows beyond its height are not shown. */
  setRows(rows: readonly StyledLine[]): void;
}

type Cell = [number, string];
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
      for (const segment of row) {
        const attr = attrOf(segment.style);
        for (const grapheme of graphemes(segment.text)) {
          const width = textWidth(grapheme);
          if (width === 0) continue;
          if (x + width > right) return;
          put(x, attr, grapheme);
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
