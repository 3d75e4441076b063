import { spawn, type ChildProcess } from 'node:child_process';

/** The nats-server binary; Debian's package puts it here (.ci/run installs it). */
export const NATS_SERVER = process.env.TINYCHAT_NATS_SERVER ?? '/usr/sbin/nats-server';

/** A private nats-server child process on a loopback port. */
export interface NatsServerProcess {
  readonly port: number;
  readonly url: string;
  /** Sends `signal` (SIGKILL by default) and resolves once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts nats-server on 127.0.0.1:`port` and resolves once it says it is
 * ready; rejects with its output if it exits first or takes over `timeoutMs`.
 */
export function startNatsServer(port: number, timeoutMs = 15_000): Promise<NatsServerProcess> {
  const child: ChildProcess = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void stop().then(() => reject(new Error(`nats-server on port ${port} ${why}:\n${output}`)));
    };
    const timer = setTimeout(() => fail(`was not ready after ${timeoutMs} ms`), timeoutMs);
    child.once('error', (err) => fail(`could not start (${err.message})`));
    const onExit = () => fail('exited');
    child.once('exit', onExit);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Server is ready')) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve({ port, url: `nats://127.0.0.1:${port}`, stop });
      }
    });
  });
}
