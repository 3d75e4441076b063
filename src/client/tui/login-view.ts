import * as blessed from 'blessed';
import type { LoginForm } from '../state/login-form';
import { createCanvas, type Canvas } from './canvas';
import { actionFor, applyEdit, type KeyEvent } from './keymap';
import { layoutLogin } from './login-layout';
import { TerminalInput } from './terminal-input';
import type { Theme } from './theme';

/** What the person did on the form. */
export type LoginChoice = 'submit' | 'cancel';

const BOX_WIDTH = 62;

/**
 * The login form on screen: a centred box with the form's fields. It only
 * draws the LoginForm and edits its fields; the caller connects.
 */
export class LoginView {
  private readonly canvas: Canvas;
  private readonly terminalInput: TerminalInput;
  private waiting: ((choice: LoginChoice) => void) | undefined;
  // Redraws every second while a lockout is counted down.
  private countdown: NodeJS.Timeout | undefined;
  private readonly onKey = (ch: string | undefined, key: KeyEvent | undefined) => this.key(ch, key);
  private readonly onResize = () => this.draw();

  constructor(
    private readonly screen: blessed.Widgets.Screen,
    private readonly form: LoginForm,
    private readonly theme: Theme,
  ) {
    this.canvas = createCanvas(screen, {
      top: 'center',
      left: 'center',
      width: BOX_WIDTH,
      height: 12,
      border: { type: 'line' },
      label: ' TinyChat ',
      padding: { left: 1, right: 1 },
    });
    screen.on('keypress', this.onKey);
    screen.on('resize', this.onResize);
    this.terminalInput = new TerminalInput(screen, {
      // A field holds one line: a pasted password loses its line breaks.
      paste: (text) => this.typed(text.replace(/\n/g, '')),
      text: (text) => this.typed(text),
      newline: () => {},
    });
  }

  private typed(text: string): void {
    if (this.form.busy) return;
    this.form.field.editor.insert(text);
    this.draw();
  }

  /** Resolves when the person submits a valid form (Enter) or leaves (Esc, Ctrl-C). While busy, only leaving counts. */
  next(): Promise<LoginChoice> {
    this.draw();
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** Draws the form as it is now. */
  draw(): void {
    const width = Math.min(BOX_WIDTH, this.screen.width as number);
    const inner = width - 4;
    const now = Date.now();
    const layout = layoutLogin(this.form, inner, this.theme, now);
    clearTimeout(this.countdown);
    if (this.form.lockedFor(now) > 0) this.countdown = setTimeout(() => this.draw(), ((this.form.lockedUntil! - now) % 1000) + 20);
    const box = this.canvas.box;
    box.width = width;
    box.height = Math.min(layout.rows.length + 2, this.screen.height as number);
    this.canvas.setRows(layout.rows);
    this.screen.render();
    const program = this.screen.program;
    if (layout.cursor) {
      program.cup((box.atop as number) + 1 + layout.cursor.row, (box.aleft as number) + 2 + layout.cursor.col);
      program.showCursor();
    } else program.hideCursor();
  }

  /** Removes the form from the screen. */
  dispose(): void {
    clearTimeout(this.countdown);
    this.screen.removeListener('keypress', this.onKey);
    this.screen.removeListener('resize', this.onResize);
    this.terminalInput.dispose();
    this.canvas.box.destroy();
  }

  private settle(choice: LoginChoice): void {
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve?.(choice);
  }

  private key(ch: string | undefined, key: KeyEvent | undefined): void {
    const full = key?.full ?? '';
    if (full === 'escape' || full === 'C-c') return this.settle('cancel');
    if (this.form.busy) return;
    const editor = this.form.field.editor;
    const action = actionFor(ch, key, { inputEmpty: editor.isEmpty });
    switch (action.type) {
      case 'submit':
        if (this.form.validate()) {
          this.form.error = undefined;
          this.settle('submit');
        }
        break;
      case 'complete':
      case 'cycle':
        this.form.move(action.type === 'complete' ? (action.backwards ? -1 : 1) : action.delta);
        break;
      case 'history':
        this.form.move(action.direction);
        break;
      case 'insert':
        editor.insert(action.text);
        break;
      case 'edit':
        applyEdit(editor, action.op);
        break;
      default:
        return;
    }
    this.draw();
  }
}
