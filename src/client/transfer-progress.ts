import { formatBytes } from '../files/sizes';
import type { TransferProgress } from './file-transfer';

/** "0:07", "12:03": a duration for a progress line. */
function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Rate and time left of a transfer `elapsedMs` after it started. */
export function transferRate(progress: TransferProgress, elapsedMs: number): { bytesPerSecond: number; secondsLeft: number | undefined } {
  const bytesPerSecond = elapsedMs > 0 ? (progress.moved * 1000) / elapsedMs : 0;
  const secondsLeft = bytesPerSecond > 0 ? (progress.total - progress.done) / bytesPerSecond : undefined;
  return { bytesPerSecond, secondsLeft };
}

/** "42% 1.3 MiB of 3.0 MiB, 12.0 MiB/s, 0:01 left": one progress line for people. */
export function formatProgress(progress: TransferProgress, elapsedMs: number): string {
  const percent = progress.total > 0 ? Math.floor((progress.done * 100) / progress.total) : 100;
  const { bytesPerSecond, secondsLeft } = transferRate(progress, elapsedMs);
  const rate = bytesPerSecond > 0 ? `, ${formatBytes(bytesPerSecond)}/s` : '';
  const left = secondsLeft !== undefined && progress.done < progress.total ? `, ${clock(secondsLeft)} left` : '';
  return `${percent}% ${formatBytes(progress.done)} of ${formatBytes(progress.total)}${rate}${left}`;
}

/**
 * Calls `report` with a progress line at most every `everyMs` (and always for
 * the first and the last): enough to watch, few enough for a log.
 */
export function throttledProgress(report: (line: string) => void, everyMs = 1000, now: () => number = Date.now): (progress: TransferProgress) => void {
  const started = now();
  let last = -Infinity;
  return (progress) => {
    const at = now();
    const finished = progress.done >= progress.total;
    if (!finished && at - last < everyMs) return;
    last = at;
    report(formatProgress(progress, at - started));
  };
}
