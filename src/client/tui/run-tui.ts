import * as blessed from 'blessed';
import type { BackoffOptions } from '../backoff';
import { status as Status } from '@grpc/grpc-js';
import { ChatConnection, ClientError, type ClientTls, type PendingSend } from '../connection';
import { printable } from '../format';
import { SavedSessions } from '../saved-sessions';
import { keepSession } from '../session-keeper';
import { ChatController } from '../state/chat-controller';
import { ChatState } from '../state/chat-state';
import { LoginForm, type LoginValues } from '../state/login-form';
import { ChatView } from './chat-view';
import { LoginView } from './login-view';
import { useTerminalWidths } from './terminal-widths';
import { makeTheme } from './theme';

/** Where the full-screen client runs and whom it logs in as. */
export interface TuiOptions {
  /** The server's address, host:port (editable on the login form). */
  server: string;
  /** The name to log in as; without it the login form asks. */
  user?: string;
  /** The password; without it the login form asks. */
  password?: string;
  /** TLS settings, when the server speaks TLS. */
  tls?: ClientTls;
  /** The terminal: keys come from input, the screen goes to output. */
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Where to say what outlives the screen (messages that were never sent); nothing when absent. */
  errors?: NodeJS.WritableStream;
  /** The terminal type; $TERM by default. */
  terminal?: string;
  /** Times with seconds (--seconds). */
  seconds?: boolean;
  /**
   * Where the session is kept between runs (`~/.config/tinychat` for
   * `tinychat chat`); without it nothing is saved and leaving ends the session.
   */
  configDir?: string;
  /** Delays between reconnect attempts (tests shorten them). */
  backoff?: BackoffOptions;
  /** How long a login keeps trying while the server cannot be reached; 0 (the default) tries once. */
  connectTimeoutMs?: number;
  /**
   * Also restore the terminal and leave cleanly on SIGTERM, SIGHUP and
   * crashes. Only for the process's own terminal: it installs process-wide
   * handlers.
   */
  handleProcessEvents?: boolean;
}

/** A running full-screen client. */
export interface TuiSession {
  screen: blessed.Widgets.Screen;
  /** The chat state once logged in (for tests that look behind the screen). */
  state(): ChatState | undefined;
  /** Resolves with the exit code once the client has left and the terminal is restored. */
  exit: Promise<number>;
}

/** Starts the full-screen client: the login form when needed, then the chat screen. */
export function openTui(options: TuiOptions): TuiSession {
  useTerminalWidths();
  const screen = blessed.screen({
    input: options.input as NodeJS.ReadStream,
    output: options.output as NodeJS.WriteStream,
    terminal: options.terminal ?? process.env.TERM ?? 'xterm-256color',
    smartCSR: true,
    fullUnicode: true,
    forceUnicode: true,
    autoPadding: false,
    warnings: false,
    title: 'TinyChat',
  });
  let chatState: ChatState | undefined;
  const exit = run(screen, options, (state) => (chatState = state));
  return { screen, state: () => chatState, exit };
}

/** Runs the full-screen client until the person leaves; resolves with the exit code. */
export function runTui(options: TuiOptions): Promise<number> {
  return openTui(options).exit;
}

interface Running {
  connection?: ChatConnection;
}

async function run(screen: blessed.Widgets.Screen, options: TuiOptions, onState: (state: ChatState) => void): Promise<number> {
  // The library's Tput knows the terminal's colour count; its typings leave it out.
  const theme = makeTheme((screen as unknown as { tput?: { colors?: number } }).tput?.colors ?? 8);
  const running: Running = {};
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      screen.destroy();
    } catch {
      // The terminal may be gone already (SIGHUP); nothing is left to restore.
    }
  };
  const detach = options.handleProcessEvents ? watchProcess(running, options.output, restore) : () => {};
  try {
    const memory = options.configDir ? new SavedSessions(options.configDir) : undefined;
    const logged = await logIn(screen, options, theme, running, memory);
    if (!logged) return 0;
    onState(logged.state);
    const stopKeeping = memory ? keepSession(memory, logged.server, logged.controller.connection, logged.state, logged.controller) : () => {};
    const view = new ChatView(screen, logged.state, logged.controller, theme, { seconds: options.seconds });
    const outcome = await view.done;
    stopKeeping();
    view.dispose();
    restore();
    if (outcome.unsent.length > 0) {
      reportUnsent(options.errors, outcome.unsent);
      return 1;
    }
    return 0;
  } finally {
    restore();
    detach();
  }
}

/** A client logged in: its state, its controller and the address used. */
interface LoggedIn {
  state: ChatState;
  controller: ChatController;
  server: string;
}

/**
 * One attempt to connect, shown as busy on the form: the client logged in,
 * the reason it could not, or 'left' when the person left meanwhile. A
 * failed connection is closed (keeping the session when asked).
 */
async function attempt(
  view: LoginView,
  form: LoginForm,
  running: Running,
  connection: ChatConnection,
  who: { user: string; server: string },
  keepSession = false,
): Promise<LoggedIn | Error | 'left'> {
  const state = new ChatState(who.user, who.server);
  const controller = new ChatController(connection, state);
  running.connection = connection;
  form.busy = true;
  const cancelled = view.next();
  const outcome = await Promise.race([controller.connect().then(() => 'connected' as const, (err: Error) => err), cancelled]);
  form.busy = false;
  if (outcome === 'connected') return { state, controller, server: who.server };
  await connection.close({ keepSession });
  running.connection = undefined;
  return outcome instanceof Error ? outcome : 'left';
}

/** Resumes the saved session, else shows the login form until a connection is made or the person leaves (undefined). */
async function logIn(
  screen: blessed.Widgets.Screen,
  options: TuiOptions,
  theme: ReturnType<typeof makeTheme>,
  running: Running,
  memory: SavedSessions | undefined,
): Promise<LoggedIn | undefined> {
  const saved = memory?.find(options.server, options.user);
  const form = new LoginForm({ server: options.server, user: options.user ?? saved?.user, password: options.password });
  const view = new LoginView(screen, form, theme);
  const reach = { tls: options.tls, backoff: options.backoff, connectTimeoutMs: options.connectTimeoutMs };
  try {
    if (saved) {
      // The session of an earlier run, resumed without the password.
      const connection = new ChatConnection({ server: saved.server, user: saved.user, password: '', token: saved.token, ...reach });
      const outcome = await attempt(view, form, running, connection, saved, true);
      if (outcome === 'left') return undefined;
      if (!(outcome instanceof Error)) {
        await outcome.controller.resume(saved.conversations, saved.current);
        return outcome;
      }
      if (outcome instanceof ClientError && outcome.code === Status.UNAUTHENTICATED) memory!.forget(saved.server, saved.user);
      // The password field keeps what was given (TINYCHAT_PASSWORD), which is tried next.
      form.error = outcome.message;
    }
    // With --user and a password the first attempt needs no key press.
    let choice: 'submit' | 'cancel' = options.user && options.password && form.validate() ? 'submit' : await view.next();
    while (choice === 'submit') {
      const values: LoginValues = form.values();
      const connection = new ChatConnection({
        server: values.server,
        user: values.user,
        password: values.password,
        // A password from TINYCHAT_PASSWORD or --password-file was not typed:
        // no typo needs catching, so it registers a new name at once.
        register: !form.passwordTyped || form.registering,
        ...reach,
      });
      const outcome = await attempt(view, form, running, connection, values);
      if (outcome === 'left') return undefined;
      if (!(outcome instanceof Error)) return outcome;
      if (outcome instanceof ClientError && outcome.code === Status.NOT_FOUND && !form.registering) form.confirmNewAccount(values.user);
      else form.failed(outcome instanceof ClientError ? outcome : { message: outcome.message, retryable: false }, Date.now());
      choice = await view.next();
    }
    return undefined;
  } finally {
    view.dispose();
  }
}

function reportUnsent(errors: NodeJS.WritableStream | undefined, unsent: PendingSend[]): void {
  if (!errors) return;
  const lines = unsent.map((send) => `  to ${send.receiver}: ${printable(send.body)}`);
  errors.write(
    `tinychat: ${unsent.length === 1 ? '1 message was' : `${unsent.length} messages were`} not confirmed by the server and may not have been delivered:\n${lines.join('\n')}\n` +
      'Check with /HISTORY <name> next time, and send again what is missing.\n',
  );
}

/**
 * Leaves cleanly on SIGTERM and SIGHUP, as /QUIT does but without waiting
 * for pending sends, and then ends by the same signal, as its sender
 * expects. After SIGHUP (or a failed write) the terminal is gone: nothing is
 * drawn or restored then, since writing to it only fails. A crash restores
 * the terminal before it is reported, so the terminal is never left raw.
 * Returns the undo.
 */
function watchProcess(running: Running, output: NodeJS.WritableStream, restore: () => void): () => void {
  let leaving = false;
  const leave = (signal: 'SIGTERM' | 'SIGHUP') => {
    if (leaving) return;
    leaving = true;
    const closing = running.connection?.close() ?? Promise.resolve();
    void closing.finally(() => {
      if (signal !== 'SIGHUP') restore();
      undo();
      process.kill(process.pid, signal);
    });
  };
  const onTerm = () => leave('SIGTERM');
  const onHangUp = () => leave('SIGHUP');
  const onCrash = (err: unknown) => {
    restore();
    process.stderr.write(`tinychat: unexpected failure: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.TINYCHAT_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  };
  const undo = () => {
    process.removeListener('SIGTERM', onTerm);
    process.removeListener('SIGHUP', onHangUp);
    process.removeListener('uncaughtException', onCrash);
    process.removeListener('unhandledRejection', onCrash);
    output.removeListener('error', onHangUp);
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHangUp);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  output.on('error', onHangUp);
  return undo;
}
