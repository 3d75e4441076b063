import { lineLogger } from '../log';
import type { BusOptions } from './bus';

/** Where a bus sends errors it cannot throw to a caller. */
export type BusErrorReporter = (error: unknown, topic?: string) => void;

/**
 * The reporter the options ask for, or one that logs a `bus-error` line to
 * stderr: a failing handler must be visible, but must not take the node down.
 */
export function errorReporter(options: BusOptions): BusErrorReporter {
  if (options.onError) return options.onError;
  const log = lineLogger();
  return (error, topic) => log.error('bus-error', { topic, error: error instanceof Error ? error.message : String(error) });
}

/** Calls `fn`, sending what it throws to `report` instead of the caller. */
export function guarded(report: BusErrorReporter, topic: string | undefined, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    try {
      report(err, topic);
    } catch {
      // A reporter that throws has nowhere left to report to; delivery goes on.
    }
  }
}
