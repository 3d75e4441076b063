import type { LoginForm } from '../state/login-form';
import { fit, seg, type StyledLine } from './styled-line';
import { textWidth, truncate, wrapText } from './text-width';
import type { Theme } from './theme';

/** The login box's rows and where the cursor goes (row and column inside the box). */
export interface LoginLayout {
  rows: StyledLine[];
  cursor: { row: number; col: number } | undefined;
}

const LABEL_WIDTH = 10;

/**
 * The login form inside a box `width` columns wide: a line saying what
 * happens, one row per field (secret fields as dots), the last error in
 * red with what to do, and the keys.
 */
export function layoutLogin(form: LoginForm, width: number, theme: Theme, now = Date.now()): LoginLayout {
  const rows: StyledLine[] = [];
  if (form.registering) {
    const intro = `Nobody is named ${form.newAccount} yet: a new account is being created. Type its password a second time.`;
    for (const line of wrapText(intro, width)) rows.push([seg(line, theme.title)]);
  } else rows.push([seg('Log in to chat. The first login of a name registers it.', theme.quiet)]);
  rows.push([]);
  let cursor: LoginLayout['cursor'];
  const fieldWidth = Math.max(4, width - LABEL_WIDTH);
  form.fields.forEach((field, i) => {
    const focused = i === form.focused;
    const text = field.secret ? '•'.repeat(field.editor.graphemes.length) : field.editor.text;
    // Long values show their end, where the cursor usually is.
    let shown = text;
    while (textWidth(shown) > fieldWidth - 1) shown = shown.slice(1);
    const label = seg(field.label.padEnd(LABEL_WIDTH), focused ? theme.prompt : theme.title);
    rows.push([label, seg(shown, { underline: true }), seg(' '.repeat(Math.max(0, fieldWidth - textWidth(shown))), { underline: true })]);
    if (focused && !form.busy) {
      const before = field.secret ? '•'.repeat(field.editor.cursor) : field.editor.beforeCursor;
      const hidden = textWidth(text) - textWidth(shown);
      cursor = { row: rows.length - 1, col: LABEL_WIDTH + Math.max(0, textWidth(before) - hidden) };
    }
  });
  rows.push([]);
  if (form.busy) {
    const { server, user } = form.values();
    rows.push([seg(truncate(`connecting to ${server} as ${user}…`, width), theme.pending)]);
  } else if (form.error) {
    const locked = form.lockedFor(now);
    const error = locked > 0 ? `${form.error} — try again in ${locked} s` : form.error;
    for (const line of wrapText(error, width)) rows.push([seg(line, theme.error)]);
    const hint = locked > 0 ? 'Logging in is refused until then.' : form.lockedUntil !== undefined ? 'You may try again now.' : 'Fix that and press Enter to try again.';
    rows.push([seg(hint, theme.quiet)]);
  } else {
    rows.push([]);
  }
  rows.push([]);
  rows.push(fit([seg(form.busy ? 'Esc: cancel' : 'Enter: log in · Tab: next field · Esc: quit', theme.quiet)], width));
  return { rows, cursor };
}
