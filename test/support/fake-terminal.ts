import { PassThrough } from 'node:stream';
import type { Widgets } from 'blessed';
import { cellGrapheme } from '../../src/client/tui/canvas';
import { textWidth } from '../../src/client/tui/text-width';

/** A terminal in memory: keys go in, the screen's bytes come out. */
export interface FakeTerminal {
  input: PassThrough;
  output: PassThrough & { columns: number; rows: number };
  /** Every byte written to the terminal so far. */
  written(): string;
}

/** A terminal of this size in memory, for the full-screen client. */
export function fakeTerminal(columns = 80, rows = 24): FakeTerminal {
  const input = new PassThrough();
  const output = Object.assign(new PassThrough(), { columns, rows });
  let written = '';
  output.setEncoding('utf8').on('data', (chunk: string) => (written += chunk));
  return { input, output, written: () => written };
}

/** The screen's rows as text, read from its cells (a wide character's second cell is skipped). */
export function rowsOf(screen: Widgets.Screen): string[] {
  const lines = (screen as unknown as { lines: Array<Array<[number, string]>> }).lines;
  return lines.map((line) => {
    let text = '';
    for (let x = 0; x < line.length; x += 1) {
      const grapheme = cellGrapheme(line[x][1]);
      text += grapheme;
      if (textWidth(grapheme) === 2) x += 1;
    }
    return text;
  });
}

/** The whole screen as text, one row a line. */
export function screenText(screen: Widgets.Screen): string {
  return rowsOf(screen).join('\n');
}
