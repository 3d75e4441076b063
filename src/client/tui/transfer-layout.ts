import { formatProgress } from '../transfer-progress';
import type { Transfer } from '../state/file-board';
import { fit, seg, type StyledLine } from './styled-line';
import type { Theme } from './theme';

/**
 * The status row while a file moves: direction, name, a bar, then bytes,
 * rate and time left — "↑ build.tar ██████░░░░ 42% 84.0 MiB of 200 MiB,
 * 31.0 MiB/s, 0:03 left" — and how many more transfers wait behind it.
 */
export function layoutTransfer(transfers: readonly Transfer[], width: number, theme: Theme, now: number): StyledLine {
  const transfer = transfers[0];
  const { done, total } = transfer.progress;
  const barWidth = Math.max(5, Math.min(20, Math.floor(width / 5)));
  const filled = total > 0 ? Math.round((done / total) * barWidth) : barWidth;
  const more = transfers.length > 1 ? ` (+${transfers.length - 1} more)` : '';
  return fit(
    [
      seg(` ${transfer.direction === 'up' ? '↑' : '↓'} ${transfer.name} `, theme.bar),
      seg('█'.repeat(filled), { ...theme.bar, fg: 'green' }),
      seg('░'.repeat(barWidth - filled), theme.bar),
      seg(` ${formatProgress(transfer.progress, now - transfer.startedAt)}${more}`, theme.bar),
    ],
    width,
    theme.bar,
  );
}
