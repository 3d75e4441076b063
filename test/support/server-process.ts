import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The compiled CLI, as `npm start` runs it. */
export const CLI = join(__dirname, '..', '..', 'src', 'main.js');

/** A `tinychat serve` child process. */
export interface ServerProcess {
  child: ChildProcess;
  port: number;
  target: string;
  /** Everything it logged so far. */
  log(): string;
  /** Sends a signal and waits for the exit; resolves with the exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals | null>;
}

/**
 * Runs `node dist/src/main.js serve` on 127.0.0.1 and resolves once it
 * listens. Port 0 picks a free port (read back from its log line).
 */
export function startServerProcess(options: { dbPath: string; port?: number; extraArgs?: string[]; env?: NodeJS.ProcessEnv }): Promise<ServerProcess> {
  const args = [
    CLI,
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    String(options.port ?? 0),
    '--db',
    options.dbPath,
    // The cheapest password hash the server accepts keeps test logins fast.
    '--password-cost',
    '10',
    // Tests read its log lines as text (a pipe would get JSON).
    '--log-format',
    'text',
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  let output = '';
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within 10 s; log:\n${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // The text line, or the JSON one with --log-format json.
      const match = /listening address=\S+:(\d+)|"address":"[^"]*:(\d+)"[^\n]*"event":"listening"/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      const port = Number(match[1] ?? match[2]);
      resolve({
        child,
        port,
        target: `127.0.0.1:${port}`,
        log: () => output,
        stop: (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (${signal ?? code}); log:\n${output}`));
    });
  });
}
