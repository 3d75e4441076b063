import { textWidth, truncate } from './text-width';

/** How a piece of text looks; colours are the screen library's names ("cyan", "light-blue", …). */
export interface Style {
  fg?: string;
  bg?: string;
  bold?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

/** A piece of text with one style. */
export interface Segment {
  text: string;
  style?: Style;
}

/** One row of the screen as styled pieces. */
export type StyledLine = Segment[];

/** A segment; the text is taken as is (make it printable first). */
export function seg(text: string, style?: Style): Segment {
  return style ? { text, style } : { text };
}

/** The line's text without styles. */
export function plain(line: StyledLine): string {
  return line.map((segment) => segment.text).join('');
}

/** Columns the line takes. */
export function lineWidth(line: StyledLine): number {
  return line.reduce((sum, segment) => sum + textWidth(segment.text), 0);
}

/**
 * The line cut to `width` columns (the last visible piece ends in "…") and,
 * with `fill`, padded to exactly `width` with spaces in the fill style.
 */
export function fit(line: StyledLine, width: number, fill?: Style): StyledLine {
  const out: StyledLine = [];
  let left = width;
  for (const segment of line) {
    const w = textWidth(segment.text);
    if (w <= left) {
      out.push(segment);
      left -= w;
      continue;
    }
    if (left > 0) out.push({ ...segment, text: truncate(segment.text, left) });
    left = 0;
    break;
  }
  if (fill && left > 0) out.push({ text: ' '.repeat(left), style: fill });
  return out;
}

/** A line with `left` at the start and `right` flush with the right edge of `width`; the left part gives way. */
export function spread(left: StyledLine, right: StyledLine, width: number, fill?: Style): StyledLine {
  const rightWidth = lineWidth(right);
  if (rightWidth >= width) return fit(right, width, fill);
  return [...fit(left, width - rightWidth, fill ?? {}), ...right];
}

/** Text centred in `width` columns between runs of `filler`. */
export function centred(text: string, width: number, filler: string, style?: Style): StyledLine {
  const label = truncate(text, width);
  const room = width - textWidth(label);
  const leftRun = Math.floor(room / 2);
  return [seg(filler.repeat(leftRun) + label + filler.repeat(room - leftRun), style)];
}

