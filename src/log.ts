import pino from 'pino';

/**
 * The server's log: one event per line on stderr, as text for a person at a
 * terminal or as JSON for a log pipeline. Message bodies, passwords and
 * tokens are never passed here.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Where the server reports what it does. */
export interface Logger {
  info(event: string, fields?: LogFields): void;
  /** Something an operator should look at, though the server carries on (failed logins, plaintext on a network). */
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/** How log lines are written: `time level event key=value…`, or one JSON object per line. */
export type LogFormat = 'text' | 'json';

/** The least severe level written; the levels below it are dropped. */
export type LogLevel = 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['info', 'warn', 'error'];

function formatFields(fields: LogFields | undefined): string {
  if (!fields) return '';
  let out = '';
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = String(value);
    out += ` ${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return out;
}

/** A logger writing one `time level event key=value…` line per event to the given stream (stderr by default). */
export function lineLogger(stream: NodeJS.WritableStream = process.stderr, level: LogLevel = 'info'): Logger {
  const least = LOG_LEVELS.indexOf(level);
  const emitter = (at: LogLevel) =>
    LOG_LEVELS.indexOf(at) < least
      ? () => undefined
      : (event: string, fields?: LogFields) => {
          stream.write(`${new Date().toISOString()} ${at} ${event}${formatFields(fields)}\n`);
        };
  return { info: emitter('info'), warn: emitter('warn'), error: emitter('error') };
}

/**
 * A logger writing one JSON object per line through pino:
 * `{"level":"warn","time":"…","event":"login-failed","user":"alice",…}`.
 * Writes are synchronous, so the last lines before an exit are not lost.
 */
export function jsonLogger(stream?: NodeJS.WritableStream, level: LogLevel = 'info'): Logger {
  const log = pino(
    {
      level,
      base: undefined,
      messageKey: 'event',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream ?? pino.destination({ fd: 2, sync: true }),
  );
  return {
    info: (event, fields) => log.info(fields ?? {}, event),
    warn: (event, fields) => log.warn(fields ?? {}, event),
    error: (event, fields) => log.error(fields ?? {}, event),
  };
}

/** The logger `--log-format` and `--log-level` ask for, on stderr. */
export function createLogger(format: LogFormat, level: LogLevel): Logger {
  return format === 'json' ? jsonLogger(undefined, level) : lineLogger(process.stderr, level);
}

/** A logger that drops everything; for tests that start servers in-process. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
