import { readFileSync } from 'node:fs';

/** Where a password may come from, in the order they are tried. */
export interface PasswordSources {
  /** --password-file: the first line of this file. */
  file?: string;
  /** The environment (TINYCHAT_PASSWORD). */
  env: NodeJS.ProcessEnv;
  /** A terminal to prompt on, if there is one. */
  terminal?: { input: NodeJS.ReadStream; output: NodeJS.WritableStream };
  /** What the prompt says. */
  prompt: string;
}

/**
 * Finds the password: from --password-file, else TINYCHAT_PASSWORD, else a
 * prompt on the terminal that does not echo. Never from a command-line flag,
 * where `ps` would show it.
 */
export async function readPassword(sources: PasswordSources): Promise<string> {
  if (sources.file) {
    let text: string;
    try {
      text = readFileSync(sources.file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the password file ${sources.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)} — check the path`);
    }
    return text.split(/\r?\n/, 1)[0];
  }
  if (sources.env.TINYCHAT_PASSWORD) return sources.env.TINYCHAT_PASSWORD;
  if (sources.terminal?.input.isTTY) return promptHidden(sources.prompt, sources.terminal.input, sources.terminal.output);
  throw new Error('no password: set TINYCHAT_PASSWORD, pass --password-file FILE, or run in a terminal to be asked');
}

/** Asks for a line on a terminal without echoing it. */
export function promptHidden(prompt: string, input: NodeJS.ReadStream, output: NodeJS.WritableStream): Promise<string> {
  output.write(prompt);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || char === '\u0004') return finish(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else if (char >= ' ') value += char;
      }
    };
    input.on('data', onData);
  });
}
