import { PassThrough } from 'node:stream';
import { runPlainClient } from '../../src/client/plain-client';
import { FAST_BACKOFF } from './connection-watcher';
import { TEST_PASSWORD } from './grpc-client';

/** A line client running on in-memory streams. */
export interface RunningPlainClient {
  /** Writes lines as if typed. */
  type(...lines: string[]): void;
  /** Ends the input, as a pipe does. */
  end(): void;
  /** Everything printed to output so far. */
  out(): string;
  /** Everything printed to errors so far. */
  err(): string;
  exit: Promise<number>;
}

export { FAST_BACKOFF };

/** Starts runPlainClient as `user` against `target`, its input, output and errors in memory. */
export function runPlainInMemory(
  target: string,
  user: string,
  options: { drainTimeoutMs?: number; connectTimeoutMs?: number; password?: string; confirmPassword?: () => Promise<string> } = {},
): RunningPlainClient {
  const input = new PassThrough();
  const output = new PassThrough();
  const errors = new PassThrough();
  let out = '';
  let err = '';
  output.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  errors.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exit = runPlainClient({
    password: options.password ?? TEST_PASSWORD,
    server: target,
    user,
    input,
    output,
    errors,
    backoff: FAST_BACKOFF,
    drainTimeoutMs: options.drainTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    confirmPassword: options.confirmPassword,
  });
  return {
    type: (...lines) => lines.forEach((line) => input.write(`${line}\n`)),
    end: () => input.end(),
    out: () => out,
    err: () => err,
    exit,
  };
}
