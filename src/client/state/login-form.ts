import { nameKey } from '../../chat/names';
import { LineEditor } from './line-editor';

/** What the login form collects. */
export interface LoginValues {
  server: string;
  user: string;
  password: string;
}

/** A failed login attempt, as the form needs it (a ClientError fits). */
export interface LoginFailure {
  message: string;
  /** True when the same attempt may succeed later (the server was out of reach): the password stays. */
  retryable: boolean;
  /** How long the server refuses logins (a lockout), when it said. */
  retryAfterMs?: number;
}

/** One field of the form. */
export interface LoginField {
  key: keyof LoginValues | 'again';
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
  /** Until when (ms since the epoch) the server refuses logins for now: a lockout, counted down on screen. */
  lockedUntil: number | undefined;
  /** The name the server said nobody has, while the password is asked a second time to register it. */
  newAccount: string | undefined;

  private readonly givenPassword: string | undefined;

  constructor(initial: Partial<LoginValues>) {
    this.givenPassword = initial.password || undefined;
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

  /**
   * The server answered that nobody has this name: a new account is made
   * only once the password is typed a second time, in a field added for it.
   */
  confirmNewAccount(name: string): void {
    this.newAccount = name;
    this.error = undefined;
    let again = this.fields.findIndex((field) => field.key === 'again');
    if (again < 0) {
      this.fields.push({ key: 'again', label: 'Again', editor: new LineEditor(), secret: true });
      again = this.fields.length - 1;
    }
    this.fields[again].editor.clear();
    this.focused = again;
  }

  /**
   * True when this attempt registers a new account: the server said the
   * name is new and the name is still the one it said so of. Otherwise the
   * client logs in to an existing account only.
   */
  get registering(): boolean {
    return this.newAccount !== undefined && nameKey(this.newAccount) === nameKey(this.values().user);
  }

  /**
   * Takes a failed attempt: its sentence becomes the error, the password is
   * cleared (Enter would only send the wrong one again) unless the server
   * was out of reach, and a lockout is counted down from `now`.
   */
  failed(failure: LoginFailure, now: number): void {
    this.error = failure.message.replace(/ — try again in \d+ (?:s|min)$/, '');
    this.lockedUntil = failure.retryAfterMs ? now + failure.retryAfterMs : undefined;
    if (failure.retryable) return;
    for (const field of this.fields) if (field.secret) field.editor.clear();
    this.focused = this.fields.findIndex((field) => field.key === 'password');
  }

  /**
   * True when the password in the form was typed into it, not given at
   * start (TINYCHAT_PASSWORD, --password-file): only a typed one needs
   * typing twice before it registers a name.
   */
  get passwordTyped(): boolean {
    return this.givenPassword === undefined || this.values().password !== this.givenPassword;
  }

  /** Whole seconds left of a lockout at `now`; 0 when there is none (any more). */
  lockedFor(now: number): number {
    return this.lockedUntil === undefined ? 0 : Math.max(0, Math.ceil((this.lockedUntil - now) / 1000));
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
  validate(now = Date.now()): boolean {
    const values = this.values();
    const problem = (key: LoginField['key'], text: string) => {
      this.error = text;
      this.focused = this.fields.findIndex((field) => field.key === key);
      return false;
    };
    if (values.server === '') return problem('server', 'type the server address as host:port, e.g. 127.0.0.1:50051');
    if (!/^\S+:\d+$/.test(values.server)) return problem('server', `"${values.server}" is not host:port — e.g. 127.0.0.1:50051`);
    if (values.user === '') return problem('user', 'type your name: 1 to 32 letters, digits, "_", "." or "-"');
    if (values.password === '') return problem('password', 'type your password (the first login of a name sets it: at least 8 characters)');
    if (this.lockedFor(now) > 0) return problem('password', this.error ?? 'too many failed logins');
    this.lockedUntil = undefined;
    if (this.registering) {
      const again = this.fields.find((field) => field.key === 'again')!.editor;
      if (again.isEmpty) return problem('again', 'type the password a second time, to be sure of it');
      if (again.text !== values.password) {
        for (const field of this.fields) if (field.secret) field.editor.clear();
        return problem('password', 'the two passwords differ — type the password twice again');
      }
    }
    return true;
  }
}
