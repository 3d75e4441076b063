import * as readline from 'node:readline';
import { status } from '@grpc/grpc-js';
import { RoomEvent, type Message } from '../gen/tinychat/v1/chat';
import { nameKey } from '../chat/names';
import type { BackoffOptions } from './backoff';
import { ChatConnection, ClientError, type ClientTls, type ConnectionState } from './connection';
import { isRoomName } from '../chat/room-names';
import { formatMessage, formatStateChange, printable } from './format';
import { withShownRoom } from './room-line';
import { PlainFiles } from './plain-files';

/** Where the plain client connects and which streams it talks through. */
export interface PlainClientOptions {
  /** The server's address, host:port. */
  server: string;
  /** The name to log in as. */
  user: string;
  /** The password; the first login of a name sets it. */
  password: string;
  /** TLS settings, when the server speaks TLS. */
  tls?: ClientTls;
  /** Lines typed or piped in. */
  input: NodeJS.ReadableStream;
  /** Messages and command answers. */
  output: NodeJS.WritableStream;
  /** Errors and connection news. */
  errors: NodeJS.WritableStream;
  /** Delays between reconnect attempts (tests shorten them). */
  backoff?: BackoffOptions;
  /** How long to wait for the server to confirm sends once input ends; 10 s by default. */
  drainTimeoutMs?: number;
  /** How long to keep trying while the server cannot be reached at start; 30 s by default, 0 tries once. */
  connectTimeoutMs?: number;
  /**
   * Asks for the password a second time (on a terminal). When given, the
   * client logs in to an existing account only, and for a name nobody has
   * yet it says a new account is being created and registers it only when
   * both passwords match. Without it (a pipe, TINYCHAT_PASSWORD, a file) the
   * first login of a name registers it at once.
   */
  confirmPassword?: () => Promise<string>;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** How long the line client waits for an unreachable server at start, unless told otherwise. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
// Enough to recognise a message printed from /START's recent list when it
// also arrives on the stream.
const REMEMBERED_PRINTS = 1024;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * The line-based client, for pipes and scripts. Each input line is a
 * command ("/START bob"), an action ("/ME waves") or a message to the open
 * conversation ("//text" sends "/text"). Messages print to output as
 * `[HH:MM:SS] sender: body`, actions as `[HH:MM:SS] * sender action`;
 * errors and connection news go to errors. Ends on /QUIT or at the end of
 * input, after waiting (bounded) for the server to confirm every send.
 *
 * At start it waits, retrying with backoff, up to connectTimeoutMs for a
 * server that cannot be reached, saying so on errors.
 *
 * Resolves with the exit code: 0 when every message was stored, 1 when the
 * server could not be reached or a message was refused or left unconfirmed.
 */
export async function runPlainClient(options: PlainClientOptions): Promise<number> {
  const say = (line: string) => options.output.write(`${line}\n`);
  const complain = (line: string) => options.errors.write(`${line}\n`);
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const connect = (register: boolean) =>
    new ChatConnection({
      server: options.server,
      user: options.user,
      password: options.password,
      register,
      tls: options.tls,
      backoff: options.backoff,
      connectTimeoutMs,
    });
  let connection = connect(options.confirmPassword === undefined);
  // Keyed by room too: ids of room entries are counted apart from the others.
  const printed = new Set<string>();
  const printKey = (message: Message) => `${message.room}:${message.id}`;
  let conversation: string | undefined;
  let refused = 0;
  let previous: ConnectionState = connection.state;

  const print = (message: Message) => {
    printed.add(printKey(message));
    if (printed.size > REMEMBERED_PRINTS) printed.delete(printed.values().next().value as string);
    say(formatMessage(message));
  };

  const listen = () => {
    connection.on('message', print);
    connection.on('send-failed', (failed) => {
      refused += 1;
      complain(`error: not sent to ${printable(failed.receiver)}: ${failed.reason}`);
    });
    connection.on('presence', (change) => {
      if (conversation && nameKey(change.user) === nameKey(conversation)) {
        complain(`${change.user} is ${change.online ? 'online' : 'offline'}`);
      }
    });
    connection.on('notice', (text) => complain(`note: ${text}`));
    connection.on('error', (error) => complain(`error: ${error.message}`));
    connection.on('state', (change) => {
      const line = formatStateChange(change, previous);
      previous = change.state;
      if (line) complain(line);
    });
  };
  listen();

  try {
    try {
      await connection.connect();
    } catch (err) {
      if (!(err instanceof ClientError && err.code === status.NOT_FOUND && options.confirmPassword)) throw err;
      // A name nobody has: register it only once the password is typed the same twice.
      complain(`there is no account named ${options.user} yet: a new account is being created`);
      if ((await options.confirmPassword()) !== options.password) {
        complain('error: the two passwords differ — nothing was registered; start the client again');
        return 1;
      }
      await connection.close();
      connection = connect(true);
      listen();
      await connection.connect();
    }
  } catch (err) {
    const gaveUp =
      err instanceof ClientError && err.retryable && connectTimeoutMs > 0
        ? ` (gave up after ${connectTimeoutMs / 1000} s; --connect-timeout sets how long to wait)`
        : '';
    complain(`error: ${(err as Error).message}${gaveUp}`);
    return 1;
  }

  /** Makes `name` (a person, a room or none) the conversation lines go to; only a person's presence is printed, so only theirs is watched. */
  const setConversation = (name: string | undefined) => {
    conversation = name;
    connection.watch(name && !isRoomName(name) ? [name] : []);
  };

  const showConversation = (peer: string, recent: Message[]) => {
    setConversation(peer);
    for (const message of recent) {
      // Unshown messages to this user arrive on the stream and print then.
      const comingLive = nameKey(message.receiver) === nameKey(connection.user) && message.sequence > connection.lastSequence;
      if (!printed.has(printKey(message)) && !comingLive) print(message);
    }
  };

  const runCommand = async (typed: string) => {
    const line = withShownRoom(typed, conversation);
    const joining = /^\/join\s+(\S+)/i.exec(line.trim())?.[1];
    try {
      const response = await connection.command(line);
      const result = response.result;
      if (result?.$case === 'roomJoined') setConversation(result.roomJoined.room?.name ?? conversation);
      // Left the room shown: lines have nowhere to go until the next /JOIN or /START.
      if (result?.$case === 'roomChanged' && result.roomChanged.event === RoomEvent.ROOM_EVENT_LEFT && nameKey(result.roomChanged.room) === nameKey(conversation ?? '')) {
        setConversation(undefined);
      }
      if (result?.$case === 'conversation') {
        // The server's text lists the recent messages too; they are printed
        // here instead, in local time and without repeating live ones.
        const { peer, recent, hasMore } = result.conversation;
        say(`conversation with ${peer} open — type a message to send it`);
        if (hasMore) say(`(older messages: /HISTORY ${peer})`);
        showConversation(peer, recent);
      } else {
        if (result?.$case === 'stopped') setConversation(undefined);
        say(response.text);
      }
    } catch (err) {
      // /JOIN of a room one is in already switches to it.
      if (joining && isRoomName(joining) && err instanceof ClientError && err.code === status.FAILED_PRECONDITION && /already in/.test(err.message)) {
        setConversation(joining);
        say(err.message);
        return;
      }
      complain(`error: ${(err as Error).message}`);
    }
  };

  const sendLine = (body: string, action = false) => {
    if (!conversation) {
      complain('error: no conversation open — type /START <name> or /JOIN #room first');
      return;
    }
    try {
      connection.send(conversation, body, { action });
    } catch (err) {
      complain(`error: ${(err as Error).message}`);
    }
  };

  const lines = readline.createInterface({ input: options.input, crlfDelay: Infinity, terminal: false });
  const input = lines[Symbol.asyncIterator]();
  const files = new PlainFiles({
    connection,
    conversation: () => conversation,
    say,
    complain,
    // A question (/SAVE onto an existing file) takes the next input line as its answer; none is a no.
    ask: async (question) => {
      complain(question);
      const reply = await input.next();
      return !reply.done && /^\s*y(es)?\s*$/i.test(reply.value);
    },
  });

  try {
    for (let next = await input.next(); !next.done; next = await input.next()) {
      const line = next.value;
      if (line.trim() === '') continue;
      if (PlainFiles.handles(line)) {
        await files.start(line);
      } else if (line.startsWith('//')) {
        sendLine(line.slice(1));
      } else if (line.startsWith('/')) {
        // /QUIT ends the loop; the connection sends it while closing, after the sends are confirmed.
        const name = line.trim().split(/\s+/, 1)[0].toUpperCase();
        if (name === '/QUIT') break;
        // /ME is the client's own: the rest of the line is sent as an action.
        if (name === '/ME') {
          const action = line.trim().slice(3).trim();
          if (action === '') complain('error: /ME needs the action — usage: /ME <action>, e.g. /ME waves');
          else sendLine(action, true);
          continue;
        }
        await runCommand(line);
      } else {
        sendLine(line);
      }
    }
  } catch (err) {
    complain(`error: cannot read input: ${(err as Error).message}`);
  } finally {
    lines.close();
  }
  // Transfers still running finish first.
  await files.settled();

  // Messages that were waiting when the stream opened may still be on their
  // way; printing them before closing lets close() acknowledge them, so the
  // next run does not print them again.
  const drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
  const [confirmed, caughtUp] = await Promise.all([connection.drain(drainTimeoutMs), connection.caughtUp(drainTimeoutMs)]);
  const unconfirmed = connection.pendingSends().length;
  await connection.close();
  if (!caughtUp) {
    complain('note: some waiting messages did not arrive before the end of input; the next run shows them');
  }
  if (!confirmed) {
    complain(
      `error: ${plural(unconfirmed, 'message')} not confirmed by the server and possibly not delivered — check with /HISTORY <name> and send again`,
    );
    return 1;
  }
  if (refused > 0) {
    complain(`error: ${plural(refused, 'message')} not sent (see above)`);
    return 1;
  }
  if (files.failures > 0) {
    complain(`error: ${plural(files.failures, 'file transfer')} failed (see above)`);
    return 1;
  }
  return 0;
}
