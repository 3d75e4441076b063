import { ChatError } from './errors';
import { quoted } from './names';
import { normalizeCommandName, parseCommandLine, splitArguments, splitKeepingRest } from './command-line';
import { dateTime, fileLabel, messageLine } from './text';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type Messaging } from './messaging';
import type { Accounts, Caller } from './accounts';
import type { OnlineDirectory } from './online';
import { ROOM_COMMANDS, roomHistory, type RoomCommandResult } from './room-commands';
import { isRoomName } from './room-names';
import type { Rooms } from './rooms';
import type { StoredMessage, Store, UserRecord } from '../store/store';

/** A user as /USERS shows it. */
export interface UserStatus {
  name: string;
  online: boolean;
  lastSeenAt: number;
}

/** One line of /COMMANDS. */
export interface CommandHelp {
  name: string;
  usage: string;
  summary: string;
}

/** The typed answer of a command; `text` is what a person reads. */
export type CommandResult = { text: string } & (
  | { kind: 'login'; user: string; token: string; registered: boolean; expiresAt: number }
  | { kind: 'users'; users: UserStatus[] }
  | { kind: 'time'; time: number }
  | { kind: 'conversation'; peer: string; recent: StoredMessage[]; hasMore: boolean }
  | { kind: 'stopped'; peer: string }
  | { kind: 'logged-out'; user: string }
  | { kind: 'password-changed'; sessionsEnded: number }
  | { kind: 'commands'; commands: CommandHelp[] }
  | { kind: 'history'; peer: string; messages: StoredMessage[]; hasMore: boolean; nextBeforeId: number }
  | { kind: 'search'; words: string[]; messages: StoredMessage[]; hasMore: boolean }
  | { kind: 'files'; peer: string; messages: StoredMessage[]; hasMore: boolean }
) | RoomCommandResult;

/** Everything a command handler may use. */
export interface CommandServices {
  store: Store;
  accounts: Accounts;
  messaging: Messaging;
  rooms: Rooms;
  online: OnlineDirectory;
  /** Closes the streams of ended sessions; commands that end sessions wait for it so their streams are closed when they answer. */
  sessionEnds: { poll(): Promise<void> };
  clock: () => number;
}

/** What the transport knows about a call. */
export interface CallContext {
  /** The session token, if the call carried one. */
  token?: string;
  /** The client's network address, for throttling (no port). */
  address?: string;
  /** /LOGIN only: never register (the request's login_only). */
  loginOnly?: boolean;
}

/** Results /SEARCH returns at most, and words it takes. */
const SEARCH_RESULTS = 20;
const MAX_SEARCH_WORDS = 16;
/** Files /FILES lists at most. */
const FILES_LISTED = 20;

/** The user of the session's open conversation (read from the store: /START may have run on another node); else fails with `hint`. */
async function openPeer(store: Store, caller: Caller, hint: string): Promise<UserRecord> {
  const session = await store.findSession(caller.session.tokenHash);
  const peer = session?.peerId === undefined ? undefined : await store.findUserById(session.peerId);
  if (!peer) throw new ChatError('failed-precondition', hint);
  return peer;
}

interface CommandSpec extends CommandHelp {
  /** Fewest and most arguments accepted. */
  minArgs: number;
  maxArgs: number;
  /** The last argument is the rest of a typed line, spaces included (passwords). */
  lastTakesRest?: boolean;
  /** False only for /LOGIN: every other command needs a session. */
  needsSession: boolean;
  run(services: CommandServices, args: string[], caller: Caller | undefined, context: CallContext): Promise<CommandResult>;
}

/**
 * Every command, in the order /COMMANDS lists them. This table is the single
 * source of names, arguments, help and behaviour.
 */
const COMMANDS: CommandSpec[] = [
  {
    name: '/LOGIN',
    usage: '<name> <password>',
    summary: 'log in as <name>; the first login of a name registers it with that password',
    minArgs: 1,
    maxArgs: 2,
    lastTakesRest: true,
    needsSession: false,
    async run({ accounts }, [name, password], _caller, { address, loginOnly }) {
      const outcome = await accounts.login(name, password, address, { register: !loginOnly });
      const text = outcome.registered ? `welcome, ${outcome.user.name} — your name is registered` : `welcome back, ${outcome.user.name}`;
      return {
        kind: 'login',
        text,
        user: outcome.user.name,
        token: outcome.token,
        registered: outcome.registered,
        expiresAt: outcome.expiresAt,
      };
    },
  },
  {
    name: '/USERS',
    usage: '',
    summary: 'list every user, online or offline, with when they were last seen',
    minArgs: 0,
    maxArgs: 0,
    needsSession: true,
    async run({ store, online, clock }) {
      const now = clock();
      const users = (await store.listUsers()).map((user) => {
        const isOnline = online.isOnline(user.id);
        return { name: user.name, online: isOnline, lastSeenAt: isOnline ? now : user.lastSeenAt };
      });
      const width = Math.max(4, ...users.map((user) => user.name.length));
      const rows = users.map(
        (user) => `${user.name.padEnd(width)}  ${user.online ? 'online ' : 'offline'}  ${user.online ? 'now' : `last seen ${dateTime(user.lastSeenAt)}`}`,
      );
      const text = [`${'USER'.padEnd(width)}  STATUS   LAST SEEN`, ...rows].join('\n');
      return { kind: 'users', text, users };
    },
  },
  {
    name: '/TIME',
    usage: '',
    summary: "show the server's time",
    minArgs: 0,
    maxArgs: 0,
    needsSession: true,
    async run({ clock }) {
      const time = clock();
      return { kind: 'time', text: `server time: ${dateTime(time)} (${new Date(time).toISOString()})`, time };
    },
  },
  {
    name: '/START',
    usage: '<name>',
    summary: 'open a conversation with <name> and show its latest messages',
    minArgs: 1,
    maxArgs: 1,
    needsSession: true,
    async run({ store, messaging }, [name], caller) {
      const session = caller!.session;
      const page = await messaging.page(caller!, name);
      await store.setSessionPeer(session.tokenHash, page.peer.id);
      const header = `conversation with ${page.peer.name} open — type a message to send it`;
      const lines = page.messages.map(messageLine);
      if (page.hasMore) lines.unshift(`(older messages: /HISTORY ${page.peer.name} ${DEFAULT_PAGE_SIZE} ${page.nextBeforeId})`);
      return {
        kind: 'conversation',
        text: [header, ...lines].join('\n'),
        peer: page.peer.name,
        recent: page.messages,
        hasMore: page.hasMore,
      };
    },
  },
  {
    name: '/STOP',
    usage: '',
    summary: 'close the current conversation',
    minArgs: 0,
    maxArgs: 0,
    needsSession: true,
    async run({ store }, _args, caller) {
      const peer = await openPeer(store, caller!, 'no conversation is open — /START <name> opens one');
      await store.setSessionPeer(caller!.session.tokenHash, undefined);
      return { kind: 'stopped', text: `conversation with ${peer.name} closed`, peer: peer.name };
    },
  },
  {
    name: '/HISTORY',
    usage: '<name|#room> [count] [before-id]',
    summary: `page back through a conversation or a room (count 1–${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE})`,
    minArgs: 1,
    maxArgs: 3,
    needsSession: true,
    async run({ messaging, rooms }, [name, countArg, beforeArg], caller) {
      const count = countArg === undefined ? DEFAULT_PAGE_SIZE : parseCount(countArg);
      const beforeId = beforeArg === undefined ? undefined : parsePositive(beforeArg, 'before-id');
      if (isRoomName(name)) return roomHistory(rooms, caller!, name, count, beforeId);
      const page = await messaging.page(caller!, name, count, beforeId);
      const lines = page.messages.map(messageLine);
      if (lines.length === 0) lines.push(`no ${beforeId === undefined ? '' : 'older '}messages with ${page.peer.name}`);
      if (page.hasMore) lines.push(`(older: /HISTORY ${page.peer.name} ${count} ${page.nextBeforeId})`);
      return {
        kind: 'history',
        text: lines.join('\n'),
        peer: page.peer.name,
        messages: page.messages,
        hasMore: page.hasMore,
        nextBeforeId: page.nextBeforeId,
      };
    },
  },
  {
    name: '/SEARCH',
    usage: '<words…>',
    summary: `find your messages that contain every word (newest ${SEARCH_RESULTS} first)`,
    minArgs: 1,
    maxArgs: MAX_SEARCH_WORDS,
    needsSession: true,
    async run({ store }, args, caller) {
      // Control characters never occur in a stored body's words (and PostgreSQL text cannot hold U+0000): they separate words.
      const words = [...new Set(args.flatMap((arg) => arg.split(/[\s\u0000-\u001f\u007f]+/)).filter((word) => word.length > 0))];
      if (words.length === 0) throw new ChatError('invalid-argument', 'say what to search for: /SEARCH <words…>');
      const found = await store.search(caller!.user.id, words, SEARCH_RESULTS + 1);
      const messages = found.slice(0, SEARCH_RESULTS);
      const hasMore = found.length > SEARCH_RESULTS;
      const lines = messages.map((m) => `${messageLine(m)}   (with ${m.senderId === caller!.user.id ? m.receiver : m.sender}, #${m.id})`);
      if (lines.length === 0) lines.push(`no messages of yours contain ${words.map(quoted).join(' and ')}`);
      if (hasMore) lines.push(`(more matched: add words to narrow the search)`);
      return { kind: 'search', text: lines.join('\n'), words, messages, hasMore };
    },
  },
  ...ROOM_COMMANDS.map(
    (spec): CommandSpec => ({
      name: spec.name,
      usage: spec.usage,
      summary: spec.summary,
      minArgs: spec.minArgs,
      maxArgs: spec.maxArgs,
      needsSession: true,
      run: ({ rooms }, args, caller) => spec.run(rooms, args, caller!),
    }),
  ),
  {
    name: '/FILES',
    usage: '',
    summary: `list the files of the open conversation (newest ${FILES_LISTED} first; the client's /SAVE n saves one)`,
    minArgs: 0,
    maxArgs: 0,
    needsSession: true,
    async run({ store }, _args, caller) {
      const peer = await openPeer(store, caller!, 'no conversation is open — /START <name> opens one, then /FILES lists its files');
      const found = await store.conversationFiles(caller!.user.id, peer.id, FILES_LISTED + 1);
      const messages = found.slice(0, FILES_LISTED);
      const hasMore = found.length > FILES_LISTED;
      const lines = messages.map((m, i) => `${i + 1}. ${fileLabel(m)} from ${m.sender}, ${dateTime(m.time)} (#${m.id})`);
      if (lines.length === 0) lines.push(`no files with ${peer.name} yet — send one with /SEND <path>`);
      if (hasMore) lines.push(`(older files are not listed)`);
      return { kind: 'files', text: lines.join('\n'), peer: peer.name, messages, hasMore };
    },
  },
  {
    name: '/COMMANDS',
    usage: '',
    summary: 'list every command',
    minArgs: 0,
    maxArgs: 0,
    needsSession: false,
    async run() {
      const commands = commandHelp();
      const width = Math.max(...commands.map((c) => `${c.name} ${c.usage}`.length));
      const text = commands.map((c) => `${`${c.name} ${c.usage}`.padEnd(width)}  ${c.summary}`).join('\n');
      return { kind: 'commands', text, commands };
    },
  },
  {
    name: '/PASSWORD',
    usage: '<current> <new>',
    summary: 'change your password; your other sessions end',
    minArgs: 2,
    maxArgs: 2,
    needsSession: true,
    async run({ accounts, sessionEnds }, [current, next], caller) {
      const sessionsEnded = await accounts.changePassword(caller!, current, next);
      await sessionEnds.poll();
      const others = sessionsEnded === 1 ? '1 other session was' : `${sessionsEnded} other sessions were`;
      return { kind: 'password-changed', text: `password changed; ${others} logged out`, sessionsEnded };
    },
  },
  {
    name: '/QUIT',
    usage: '',
    summary: 'log out: end this session and its streams',
    minArgs: 0,
    maxArgs: 0,
    needsSession: true,
    async run({ accounts, sessionEnds }, _args, caller) {
      await accounts.logout(caller!);
      await sessionEnds.poll();
      return { kind: 'logged-out', text: `goodbye, ${caller!.user.name}`, user: caller!.user.name };
    },
  },
];

const BY_NAME = new Map(COMMANDS.map((spec) => [spec.name, spec]));

/** Help for every command, in table order. */
export function commandHelp(): CommandHelp[] {
  return COMMANDS.map(({ name, usage, summary }) => ({ name, usage, summary }));
}

/** What a command request carries: a typed line, or a name with arguments. */
export type CommandInput = ({ line: string } | { name: string; args: string[] }) & {
  /** /LOGIN only: never register; an unknown name is NOT_FOUND. */
  loginOnly?: boolean;
};

/**
 * Runs one command: parses and validates it, checks the session when the
 * command needs one (authentication happens only after the command is known,
 * so a typo gets the more useful "unknown command" answer).
 */
export async function runCommand(services: CommandServices, input: CommandInput, context: CallContext): Promise<CommandResult> {
  const parsed = 'line' in input ? parseCommandLine(input.line) : undefined;
  const name = 'line' in input ? parsed!.name : normalizeCommandName(input.name);
  const spec = BY_NAME.get(name);
  if (!spec) {
    throw new ChatError('invalid-argument', `unknown command ${quoted(name)} — type /COMMANDS to see every command`);
  }
  let args: string[];
  if (!('line' in input)) args = input.args;
  // "/LOGIN alice my pass phrase": the last argument is the rest of the line, as typed.
  else if (spec.lastTakesRest) args = splitKeepingRest(parsed!.rest, spec.maxArgs);
  else args = splitArguments(parsed!.rest);
  if (args.length < spec.minArgs || args.length > spec.maxArgs) {
    const expected = spec.usage ? `${spec.name} ${spec.usage}` : `${spec.name} (no arguments)`;
    const problem = args.length < spec.minArgs ? 'is missing an argument' : 'has too many arguments';
    const quoting = args.length > spec.maxArgs && spec.maxArgs > 0 && parsed ? ' (put quotes around an argument with spaces: "like this")' : '';
    throw new ChatError('invalid-argument', `${spec.name} ${problem} — usage: ${expected}${quoting}`);
  }
  const caller = spec.needsSession ? await services.accounts.authenticate(context.token) : undefined;
  return spec.run(services, args, caller, input.loginOnly ? { ...context, loginOnly: true } : context);
}

function parsePositive(text: string, what: string): number {
  if (!/^[0-9]{1,15}$/.test(text) || Number(text) < 1) {
    throw new ChatError('invalid-argument', `${what} must be a whole number from 1 to 999999999999999, not ${quoted(text)}`);
  }
  return Number(text);
}

function parseCount(text: string): number {
  const count = parsePositive(text, 'count');
  if (count > MAX_PAGE_SIZE) {
    throw new ChatError('invalid-argument', `count must be at most ${MAX_PAGE_SIZE}, not ${count}`);
  }
  return count;
}
