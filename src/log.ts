/**
 * One line per event on stderr: time, event, then key=value pairs. Message
 * bodies and tokens are never passed here.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Where the server reports what it does. */
export interface Logger {
  info(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

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

/** A logger writing one line per event to the given stream (stderr by default). */
export function lineLogger(stream: NodeJS.WritableStream = process.stderr): Logger {
  const emit = (level: string, event: string, fields?: LogFields) =>
    stream.write(`${new Date().toISOString()} ${level} ${event}${formatFields(fields)}\n`);
  return {
    info: (event, fields) => emit('info', event, fields),
    error: (event, fields) => emit('error', event, fields),
  };
}

/** A logger that drops everything; for tests that start servers in-process. */
export const silentLogger: Logger = { info() {}, error() {} };
