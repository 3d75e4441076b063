import type { PreviewImage } from '../state/file-board';
import { halfBlockRows } from './half-blocks';
import type { StyledLine } from './styled-line';

/** Columns a preview keeps free for the time, name and indent before it. */
const INDENT = 30;

/**
 * The half-block rows of a preview picture that fits in `width` columns, or
 * none: a picture wider than the room left is not drawn (the file message
 * still says what the file is).
 */
export function previewRows(image: PreviewImage | undefined, width: number): StyledLine[] | undefined {
  if (!image || image.width > width - INDENT) return undefined;
  return halfBlockRows(image);
}
