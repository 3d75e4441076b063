/** A row that may belong to a timeline entry (rows of one entry share its key). */
export interface KeyedRow {
  key?: string;
}

/** Where a move of the view asks it to go. */
export type ScrollTarget = 'page-up' | 'page-down' | 'top' | 'bottom' | 'wheel-up' | 'wheel-down';

/** Rows one turn of the mouse wheel scrolls. */
export const WHEEL_ROWS = 3;

interface Position {
  /** Showing the newest rows, and staying there as rows arrive. */
  follow: boolean;
  // The first row shown, as an entry and how many rows into it, so the view
  // stays put when rows are added above (older pages) or below (new messages).
  anchorKey: string | undefined;
  anchorOffset: number;
  /** The first row shown, when no anchor applies. */
  start: number;
}

/** The part of the rows on screen. */
export interface ScrollWindow {
  /** Index of the first row shown. */
  start: number;
  /** False when scrolled back from the newest row. */
  following: boolean;
}

/**
 * Where each conversation's pane is scrolled to. A conversation follows its
 * newest row until the person scrolls back; then the rows shown stay where
 * they are while messages arrive below or older pages load above.
 */
export class PaneScroll {
  private readonly positions = new Map<string, Position>();
  private last: { key: string; start: number; maxStart: number; height: number } | undefined;

  /** Which rows of `rows` to show for conversation `key` in `height` rows; remembered for the next move. */
  window(key: string, rows: readonly KeyedRow[], height: number): ScrollWindow {
    const position = this.position(key);
    const maxStart = Math.max(0, rows.length - height);
    let start = maxStart;
    if (!position.follow) {
      const anchor = position.anchorKey === undefined ? -1 : rows.findIndex((row) => row.key === position.anchorKey);
      start = Math.min(maxStart, Math.max(0, anchor >= 0 ? anchor + position.anchorOffset : position.start));
      if (start >= maxStart) position.follow = true;
    }
    position.start = start;
    position.anchorKey = undefined;
    const anchorAt = rows.findIndex((row, i) => i >= start && row.key !== undefined);
    if (anchorAt >= 0) {
      const anchorKey = rows[anchorAt].key;
      position.anchorKey = anchorKey;
      position.anchorOffset = start - rows.findIndex((row) => row.key === anchorKey);
    }
    this.last = { key, start, maxStart, height };
    return { start, following: position.follow };
  }

  /**
   * Moves the view last shown. Returns true when the move reached the top of
   * the rows (PageUp, the wheel or Home there): the moment to load older messages.
   */
  move(to: ScrollTarget): boolean {
    const last = this.last;
    if (!last) return false;
    const step = Math.max(1, last.height - 1);
    const moves: Record<ScrollTarget, number> = {
      'page-up': Math.max(0, last.start - step),
      'page-down': last.start + step,
      'wheel-up': Math.max(0, last.start - WHEEL_ROWS),
      'wheel-down': last.start + WHEEL_ROWS,
      top: 0,
      bottom: last.maxStart,
    };
    const start = moves[to];
    const position = this.position(last.key);
    position.follow = start >= last.maxStart;
    position.start = start;
    position.anchorKey = undefined;
    return start === 0 && (to === 'page-up' || to === 'wheel-up' || to === 'top');
  }

  /** Shows the newest rows of `key` from now on (after sending, for instance). */
  follow(key: string): void {
    this.position(key).follow = true;
  }

  /** Shows the rows of `key` from the row keyed `rowKey` on (the "new messages" line), or its newest rows when that is nearer the end. */
  showFrom(key: string, rowKey: string): void {
    const position = this.position(key);
    position.follow = false;
    position.anchorKey = rowKey;
    position.anchorOffset = 0;
  }

  /** Forgets every conversation but these: one opened again starts at its newest row. */
  keepOnly(keys: ReadonlySet<string>): void {
    for (const key of this.positions.keys()) if (!keys.has(key)) this.positions.delete(key);
  }

  private position(key: string): Position {
    let position = this.positions.get(key);
    if (!position) {
      position = { follow: true, anchorKey: undefined, anchorOffset: 0, start: 0 };
      this.positions.set(key, position);
    }
    return position;
  }
}
