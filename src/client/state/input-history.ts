/** How many typed lines Up can bring back. */
export const DEFAULT_HISTORY_LIMIT = 200;

/**
 * The lines typed so far, for Up and Down. Walking back keeps the line
 * being typed as a draft, and walking forward past the newest line brings
 * the draft back, as shells do.
 */
export class InputHistory {
  private readonly lines: string[] = [];
  // Index into lines while walking; lines.length means "at the draft".
  private position: number | undefined;
  private draft = '';

  constructor(private readonly limit = DEFAULT_HISTORY_LIMIT) {}

  /** Every remembered line, oldest first. */
  get entries(): readonly string[] {
    return this.lines;
  }

  /** Remembers a submitted line (not blank ones, nor the same line twice in a row) and stops walking. */
  add(line: string): void {
    this.position = undefined;
    if (line.trim() === '' || this.lines[this.lines.length - 1] === line) return;
    this.lines.push(line);
    if (this.lines.length > this.limit) this.lines.shift();
  }

  /** The line before the one shown (Up); `current` is kept as the draft on the first step. Undefined at the oldest. */
  previous(current: string): string | undefined {
    if (this.lines.length === 0) return undefined;
    if (this.position === undefined) {
      this.draft = current;
      this.position = this.lines.length;
    }
    if (this.position === 0) return undefined;
    this.position -= 1;
    return this.lines[this.position];
  }

  /** The line after the one shown (Down), then the draft. Undefined when not walking. */
  next(): string | undefined {
    if (this.position === undefined) return undefined;
    this.position += 1;
    if (this.position >= this.lines.length) {
      this.position = undefined;
      return this.draft;
    }
    return this.lines[this.position];
  }

  /** Stops walking: the next Up starts from the newest line again. */
  reset(): void {
    this.position = undefined;
  }
}
