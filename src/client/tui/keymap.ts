import type { LineEditor } from '../state/line-editor';

/** A key as the screen library reports it. */
export interface KeyEvent {
  name?: string;
  full?: string;
  ctrl?: boolean;
  meta?: boolean;
  shift?: boolean;
  sequence?: string;
}

/** Editing operations on the input line. */
export type EditOp =
  | 'backspace'
  | 'delete'
  | 'left'
  | 'right'
  | 'home'
  | 'end'
  | 'word-left'
  | 'word-right'
  | 'delete-word'
  | 'kill-start'
  | 'kill-end';

/** What a key asks for. */
export type Action =
  | { type: 'insert'; text: string }
  | { type: 'edit'; op: EditOp }
  | { type: 'submit' }
  | { type: 'complete'; backwards: boolean }
  | { type: 'history'; direction: -1 | 1 }
  | { type: 'go'; index: number }
  | { type: 'cycle'; delta: -1 | 1 }
  | { type: 'scroll'; to: 'page-up' | 'page-down' | 'top' | 'bottom' | 'wheel-up' | 'wheel-down' }
  | { type: 'mouse' }
  | { type: 'help' }
  | { type: 'close' }
  | { type: 'quit' }
  | { type: 'redraw' }
  | { type: 'none' };

/** The key bindings, for the help overlay and the README. */
export const KEY_BINDINGS: ReadonlyArray<{ keys: string; what: string }> = [
  { keys: 'Enter', what: 'send the line, or run the command' },
  { keys: 'Alt-Enter', what: 'a new line in the message (a paste keeps its lines too)' },
  { keys: 'Tab, Shift-Tab', what: 'complete a command or name (again: the next one); on an empty line: next / previous conversation' },
  { keys: 'Up, Down', what: 'lines typed before' },
  { keys: 'Alt-1 … Alt-9', what: 'go to conversation 1 … 9' },
  { keys: 'Ctrl-N, Ctrl-P', what: 'next / previous conversation' },
  { keys: 'PgUp, PgDn', what: 'scroll; PgUp at the top loads older messages' },
  { keys: 'Home, End', what: 'oldest / newest message (while the line is empty)' },
  { keys: 'Ctrl-A, Ctrl-E', what: 'start / end of the line' },
  { keys: 'Alt-B, Alt-F', what: 'word back / forward' },
  { keys: 'Ctrl-W, Ctrl-U, Ctrl-K', what: 'delete the word / to the start / to the end' },
  { keys: 'Mouse wheel', what: 'scroll the conversation (or this box)' },
  { keys: 'F2', what: 'mouse off, to select text with it; F2 again: the wheel scrolls again' },
  { keys: 'F1, Esc', what: 'this help; Esc closes it' },
  { keys: 'Ctrl-L', what: 'draw the screen again' },
  { keys: 'Ctrl-C', what: 'quit, like /QUIT' },
]

const NONE: Action = { type: 'none' };

const EDIT_KEYS: Record<string, EditOp> = {
  backspace: 'backspace',
  delete: 'delete',
  'C-d': 'delete',
  left: 'left',
  'C-b': 'left',
  right: 'right',
  'C-f': 'right',
  'C-a': 'home',
  'C-e': 'end',
  'C-left': 'word-left',
  'M-b': 'word-left',
  'M-left': 'word-left',
  'C-right': 'word-right',
  'M-f': 'word-right',
  'M-right': 'word-right',
  'C-w': 'delete-word',
  'M-backspace': 'delete-word',
  'C-u': 'kill-start',
  'C-k': 'kill-end',
};

/**
 * Turns one key into an action. Home and End scroll the conversation while
 * the line is empty and move the cursor otherwise; Tab completes, or on an
 * empty line goes to the next conversation.
 */
export function actionFor(ch: string | undefined, key: KeyEvent | undefined, context: { inputEmpty: boolean }): Action {
  const full = key?.full ?? key?.name ?? '';
  const name = key?.name;
  switch (full) {
    case 'C-c':
      return { type: 'quit' };
    case 'f1':
      return { type: 'help' };
    case 'f2':
      return { type: 'mouse' };
    case 'escape':
      return { type: 'close' };
    case 'return':
    case 'linefeed':
      return { type: 'submit' };
    // The library reports Enter twice, as 'enter' and as 'return'.
    case 'enter':
      return NONE;
    case 'tab':
      return context.inputEmpty ? { type: 'cycle', delta: 1 } : { type: 'complete', backwards: false };
    case 'S-tab':
      return context.inputEmpty ? { type: 'cycle', delta: -1 } : { type: 'complete', backwards: true };
    case 'up':
      return { type: 'history', direction: -1 };
    case 'down':
      return { type: 'history', direction: 1 };
    case 'C-n':
      return { type: 'cycle', delta: 1 };
    case 'C-p':
      return { type: 'cycle', delta: -1 };
    case 'pageup':
      return { type: 'scroll', to: 'page-up' };
    case 'pagedown':
      return { type: 'scroll', to: 'page-down' };
    case 'home':
      return context.inputEmpty ? { type: 'scroll', to: 'top' } : { type: 'edit', op: 'home' };
    case 'end':
      return context.inputEmpty ? { type: 'scroll', to: 'bottom' } : { type: 'edit', op: 'end' };
    case 'C-l':
      return { type: 'redraw' };
  }
  if (EDIT_KEYS[full]) return { type: 'edit', op: EDIT_KEYS[full] };
  if (key?.meta && name && /^[1-9]$/.test(name)) return { type: 'go', index: Number(name) - 1 };
  if (ch && !key?.ctrl && !key?.meta && !/[\u0000-\u001f\u007f]/.test(ch)) return { type: 'insert', text: ch };
  return NONE;
}

/** Applies one editing key to a line editor. */
export function applyEdit(editor: LineEditor, op: EditOp): void {
  switch (op) {
    case 'backspace':
      return editor.backspace();
    case 'delete':
      return editor.deleteForward();
    case 'left':
      return editor.left();
    case 'right':
      return editor.right();
    case 'home':
      return editor.home();
    case 'end':
      return editor.end();
    case 'word-left':
      return editor.wordLeft();
    case 'word-right':
      return editor.wordRight();
    case 'delete-word':
      return editor.deleteWordBack();
    case 'kill-start':
      return editor.killToStart();
    case 'kill-end':
      return editor.killToEnd();
  }
}
