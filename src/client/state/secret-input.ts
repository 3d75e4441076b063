import { graphemes, LineEditor } from './line-editor';

// "/PASSWORD " and "/LOGIN name ": what follows is a password.
const PASSWORD_LINE = /^\s*\/password(?:\s|$)/i;
const LOGIN_LINE = /^\s*\/login(?:\s|$)/i;
const SECRET_START = /^(\s*\/password\s)|^(\s*\/login\s+\S+\s)/i;

/** True for a typed line that may hold a password (/PASSWORD, /LOGIN): it is never kept for Up. */
export function holdsSecret(line: string): boolean {
  return PASSWORD_LINE.test(line) || LOGIN_LINE.test(line);
}

/**
 * Where the password starts in a line being typed, in graphemes, so the
 * input shows it as dots; undefined when the line holds none (yet).
 */
export function secretStart(text: string): number | undefined {
  const match = SECRET_START.exec(text);
  return match ? graphemes(match[0]).length : undefined;
}

/**
 * A masked prompt on the input row: it asks its questions one at a time
 * (what is typed shows as dots and is never kept for Up) and hands the
 * answers over once the last one is given. The view sends it the keys
 * while it is open.
 */
export class SecretPrompt {
  readonly editor = new LineEditor();
  private readonly answers: string[] = [];

  constructor(
    /** The questions, e.g. "current password". */
    private readonly questions: readonly string[],
    /** Given every answer, in order, once the last question is answered. */
    private readonly onDone: (answers: string[]) => void,
  ) {}

  /** The question being asked. */
  get question(): string {
    return this.questions[this.answers.length];
  }

  /** Takes what is typed as the answer to the question asked; true once every question is answered. */
  answer(): boolean {
    this.answers.push(this.editor.clear());
    if (this.answers.length < this.questions.length) return false;
    this.onDone([...this.answers]);
    return true;
  }
}
