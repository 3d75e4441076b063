/** A rectangle of cells. */
export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Where each part of the chat screen goes. */
export interface Geometry {
  /** Absent on narrow terminals, which give the whole width to the conversation. */
  sidebar: Rect | undefined;
  /** The line between sidebar and conversation. */
  divider: Rect | undefined;
  header: Rect;
  pane: Rect;
  /** The line above the input. */
  rule: Rect;
  input: Rect;
  status: Rect;
}

/** Below this width the sidebar is left out. */
export const SIDEBAR_MIN_COLUMNS = 60;

/**
 * Lays the screen out for `cols` × `rows`: sidebar on the left (a quarter of
 * the width, 18 to 28 columns), the conversation with its header on the
 * right, then a rule, the input area (`inputRows` high, as long as the
 * conversation keeps a few rows) and the status bar at the bottom.
 */
export function screenGeometry(cols: number, rows: number, inputRows = 1): Geometry {
  const width = Math.max(1, cols);
  const height = Math.max(4, rows);
  const input = Math.max(1, Math.min(inputRows, height - 7));
  const mainHeight = height - 2 - input;
  const sidebarWidth = width >= SIDEBAR_MIN_COLUMNS ? Math.min(28, Math.max(18, Math.round(width * 0.24))) : 0;
  const paneLeft = sidebarWidth > 0 ? sidebarWidth + 1 : 0;
  const paneWidth = Math.max(1, width - paneLeft);
  return {
    sidebar: sidebarWidth > 0 ? { left: 0, top: 0, width: sidebarWidth, height: mainHeight } : undefined,
    divider: sidebarWidth > 0 ? { left: sidebarWidth, top: 0, width: 1, height: mainHeight } : undefined,
    header: { left: paneLeft, top: 0, width: paneWidth, height: 1 },
    pane: { left: paneLeft, top: 1, width: paneWidth, height: Math.max(1, mainHeight - 1) },
    rule: { left: 0, top: mainHeight, width, height: 1 },
    input: { left: 0, top: mainHeight + 1, width, height: input },
    status: { left: 0, top: height - 1, width, height: 1 },
  };
}
