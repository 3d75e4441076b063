import type * as blessed from 'blessed';
import { StringDecoder } from 'node:string_decoder';

const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';
const BRACKETED_PASTE_ON = '\x1b[?2004h';
const BRACKETED_PASTE_OFF = '\x1b[?2004l';
// Alt-Enter: ESC then CR (or LF), which the screen library reports as Escape and then Enter.
const ALT_ENTER = /^\x1b[\r\n]$/;
// What a paste may hold besides printable text: newlines and tabs.
const PASTED_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;
// Text without control characters or escape sequences: nothing in it is a key other than typing.
const PRINTABLE = /^[^\u0000-\u001f\u007f-\u009f]+$/;

type DataListener = (data: Buffer | string) => void;

/** What the terminal sends that is better taken whole than as key presses. */
export interface TerminalInputHandlers {
  /** A bracketed paste, whole: newlines as \n, other control characters removed. */
  paste(text: string): void;
  /** Printable text that arrived in one piece (a paste without bracketed paste, or fast typing): what its keys would type, at once. */
  text(text: string): void;
  /** Alt-Enter was pressed. */
  newline(): void;
}

/**
 * Reads the terminal's input before the screen library does: turns on
 * bracketed paste mode and takes what arrives between its markers as one
 * paste (where the library would see a key press per character, and a
 * newline would be Enter), takes printable text that arrives in one piece
 * as one insertion (the library spends microseconds on each key, which adds
 * up for a long paste), and reports Alt-Enter, which the library reads as
 * Escape and then Enter. Everything else goes on to the library as it came.
 */
export class TerminalInput {
  private readonly input: NodeJS.ReadableStream;
  private readonly library: DataListener[];
  private readonly decoder = new StringDecoder('utf8');
  // The paste so far, while one is arriving (it may span several reads).
  private collecting: string | undefined;

  private readonly onData = (data: Buffer | string) => {
    let rest = typeof data === 'string' ? data : this.decoder.write(data);
    while (rest !== '') {
      if (this.collecting !== undefined) {
        const end = rest.indexOf(PASTE_END);
        if (end < 0) {
          this.collecting += rest;
          return;
        }
        const text = (this.collecting + rest.slice(0, end)).replace(/\r\n?/g, '\n').replace(PASTED_CONTROL, '');
        this.collecting = undefined;
        rest = rest.slice(end + PASTE_END.length);
        if (text !== '') this.handlers.paste(text);
        continue;
      }
      const start = rest.indexOf(PASTE_START);
      this.take(start < 0 ? rest : rest.slice(0, start));
      if (start < 0) return;
      this.collecting = '';
      rest = rest.slice(start + PASTE_START.length);
    }
  };

  constructor(
    private readonly screen: blessed.Widgets.Screen,
    private readonly handlers: TerminalInputHandlers,
  ) {
    this.input = screen.program.input as NodeJS.ReadableStream;
    // The library's readers of the input, which see what is not taken here.
    this.library = this.input.listeners('data') as DataListener[];
    for (const listener of this.library) this.input.removeListener('data', listener);
    this.input.on('data', this.onData);
    this.screen.program.write(BRACKETED_PASTE_ON);
  }

  /** Gives the input back to the library alone and turns bracketed paste off again. */
  dispose(): void {
    this.input.removeListener('data', this.onData);
    for (const listener of this.library) this.input.on('data', listener);
    this.screen.program.write(BRACKETED_PASTE_OFF);
  }

  private take(chunk: string): void {
    if (chunk === '') return;
    if (ALT_ENTER.test(chunk)) this.handlers.newline();
    else if (chunk.length > 1 && PRINTABLE.test(chunk)) this.handlers.text(chunk);
    else for (const listener of this.library) listener(chunk);
  }
}
