import { seg, type StyledLine } from './styled-line';

/** A small picture: `width` × `height` pixels, three bytes (red, green, blue) each, row by row. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

function hex(rgb: Uint8Array, at: number): string {
  return `#${[rgb[at], rgb[at + 1], rgb[at + 2]].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * The picture as rows of "▀" (upper half block): each character cell shows
 * two pixels, the upper one in the foreground colour and the lower one in
 * the background colour. It needs nothing but colours, so it works in tmux
 * and any 256-colour terminal (the screen library maps each colour to the
 * nearest the terminal has). A picture of odd height gets a black last row.
 */
export function halfBlockRows(image: RgbImage): StyledLine[] {
  const rows: StyledLine[] = [];
  for (let y = 0; y < image.height; y += 2) {
    const line: StyledLine = [];
    for (let x = 0; x < image.width; x++) {
      const top = (y * image.width + x) * 3;
      const bottom = y + 1 < image.height ? ((y + 1) * image.width + x) * 3 : -1;
      line.push(seg('▀', { fg: hex(image.rgb, top), bg: bottom < 0 ? '#000000' : hex(image.rgb, bottom) }));
    }
    rows.push(line);
  }
  return rows;
}
