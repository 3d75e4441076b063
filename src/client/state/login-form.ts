import { LineEditor } from './line-editor';

/** What the login form collects. */
export interface LoginValues {
  server: string;
  user: string;
  password: string;
}

/** One field of the form. */
export interface LoginField {
  key: keyof LoginValues;
  label: string;
  editor: LineEditor;
  /** Shown as dots (the password). */
  secret: boolean;
}

/**
 * The login form's state: its fields, which one has the cursor, and the
 * error of the last attempt (which says what to do). The fields are data,
 * so the password field is one more entry in the list.
 */
export class LoginForm {
  readonly fields: LoginField[];
  focused: number;
  /** Why the last attempt failed, in words for people. */
  error: string | undefined;
  /** True while connecting. */
  busy = false;

  constructor(initial: Partial<LoginValues>) {
    this.fields = [
      { key: 'server', label: 'Server', editor: new LineEditor(initial.server ?? ''), secret: false },
      { key: 'user', label: 'Name', editor: new LineEditor(initial.user ?? ''), secret: false },
      { key: 'password', label: 'Password', editor: new LineEditor(initial.password ?? ''), secret: true },
    ];
    // The cursor starts in the first empty field, else in the name.
    const empty = this.fields.findIndex((field) => field.editor.isEmpty);
    this.focused = empty >= 0 ? empty : this.fields.findIndex((field) => field.key === 'user');
  }

  /** The field with the cursor. */
  get field(): LoginField {
    return this.fields[this.focused];
  }

  /** Moves the cursor to the next field (delta 1) or the previous one (-1), wrapping around. */
  move(delta: number): void {
    const n = this.fields.length;
    this.focused = (((this.focused + delta) % n) + n) % n;
  }

  /** What was typed, trimmed. */
  values(): LoginValues {
    const text = (key: keyof LoginValues) => this.fields.find((field) => field.key === key)!.editor.text;
    // A password is taken as typed: its spaces are part of it.
    return { server: text('server').trim(), user: text('user').trim(), password: text('password') };
  }

  /**
   * Checks what can be checked without the server; on a problem, sets the
   * error, puts the cursor on the field and returns false.
   */
  validate(): boolean {
    const values = this.values();
    const problem = (key: keyof LoginValues, text: string) => {
      this.error = text;
      this.focused = this.fields.findIndex((field) => field.key === key);
      return false;
    };
    if (values.server === '') return problem('server', 'type the server address as host:port, e.g. 127.0.0.1:50051');
    if (!/^\S+:\d+$/.test(values.server)) return problem('server', `"${values.server}" is not host:port — e.g. 127.0.0.1:50051`);
    if (values.user === '') return problem('user', 'type your name: 1 to 32 letters, digits, "_", "." or "-"');
    if (values.password === '') return problem('password', 'type your password (the first login of a name sets it: at least 8 characters)');
    return true;
  }
}
