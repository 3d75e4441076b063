import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A private tmux server, so a test never touches anyone's sessions. */
export class Tmux {
  readonly socket = `tinychat-test-${randomBytes(4).toString('hex')}`;

  /** Fails saying how to get tmux when it is missing. */
  static async check(): Promise<void> {
    await run('tmux', ['-V']).catch(() => {
      throw new Error('this test needs tmux: install it (apt-get install tmux); .ci/run does');
    });
  }

  async command(...args: string[]): Promise<string> {
    const { stdout } = await run('tmux', ['-L', this.socket, ...args], { timeout: 5000 });
    return stdout;
  }

  /** A new cols × rows session running `shellCommand` in sh. */
  async start(name: string, shellCommand: string, cols = 80, rows = 24): Promise<void> {
    await this.command('-f', '/dev/null', 'new-session', '-d', '-x', String(cols), '-y', String(rows), '-s', name, shellCommand);
  }

  /** Types keys into a session; words like Enter or M-1 are key names. */
  async keys(name: string, ...keys: string[]): Promise<void> {
    await this.command('send-keys', '-t', name, ...keys);
  }

  /** Types text literally (nothing in it is read as a key name), then Enter. */
  async line(name: string, text: string): Promise<void> {
    await this.command('send-keys', '-t', name, '-l', text);
    await this.command('send-keys', '-t', name, 'Enter');
  }

  /** The session's screen as text; with `escapes`, with the colour escapes that draw it (capture-pane -e). */
  screen(name: string, escapes = false): Promise<string> {
    return this.command('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', name);
  }

  /** Waits until the screen satisfies `check`; fails with the screen after timeoutMs. */
  async waitFor(name: string, what: string, check: (screen: string) => boolean, timeoutMs = 8000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    while (Date.now() < deadline) {
      screen = await this.screen(name);
      if (check(screen)) return screen;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${name}'s screen:\n${screen}`);
  }

  /** Waits for `text` to be on the screen. */
  see(name: string, text: string, timeoutMs?: number): Promise<string> {
    return this.waitFor(name, JSON.stringify(text), (screen) => screen.includes(text), timeoutMs);
  }

  async kill(): Promise<void> {
    await this.command('kill-server').catch(() => undefined);
  }
}

/** `text` quoted for sh. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
