import type { ChatConnection, PendingSend, StateChange } from '../connection';
import type { CommandResponse, Message } from '../../gen/tinychat/v1/chat';
import { formatClock } from '../format';
import type { ChatState } from './chat-state';
import type { Conversation } from './conversation';
import { formatDay } from './local-time';
import { readTypedLine } from './typed-line';
import { FileBoard } from './file-board';

/** Messages fetched per PageUp at the top of a conversation. */
export const OLDER_PAGE_SIZE = 50;
/** Messages fetched when a conversation opens because a message arrived. */
export const RECENT_PAGE_SIZE = 20;
/** How long leaving waits for the server to confirm what was sent. */
export const QUIT_DRAIN_MS = 5000;
/** How long a second Ctrl-C (or /QUIT) counts as "leave anyway". */
export const QUIT_CONFIRM_MS = 10_000;

/** What a request to leave came to. */
export type QuitOutcome =
  /** Closed; `unsent` holds sends the server never confirmed (only when leaving anyway). */
  | { done: true; unsent: PendingSend[] }
  /** Not closed: sends are pending and the server is out of reach; asking again leaves anyway. */
  | { done: false };

/**
 * The full-screen client's logic: it feeds the connection's events into the
 * ChatState and turns what the person types into sends and commands. It knows
 * nothing of the screen; the view calls submit(), loadOlder() and quit().
 */
export class ChatController {
  private quitConfirmUntil = 0;
  private quitting: Promise<QuitOutcome> | undefined;
  private previousState: StateChange['state'] = 'idle';

  constructor(
    readonly connection: ChatConnection,
    readonly state: ChatState,
    private readonly clock: () => number = Date.now,
  ) {
    this.files = new FileBoard(connection, state, clock);
    this.listen();
  }

  /** Uploads, downloads and image previews. */
  readonly files: FileBoard;

  /**
   * Connects, then loads the user list and the command list. Rejects with
   * the connection's ClientError (which says what to do) when the server
   * cannot be reached or refuses the name; the connection is closed then.
   */
  async connect(): Promise<void> {
    await this.connection.connect();
    this.state.me = this.connection.user;
    this.state.changed();
    await Promise.all([this.refreshPeople(), this.run('/COMMANDS', (response) => this.takeCommands(response, false))]);
  }

  /**
   * Acts on one submitted line: a message goes to the conversation shown, a
   * command runs. Resolves with 'quit' when the person asked to leave (the
   * caller then calls quit()), after the answer is shown otherwise.
   */
  async submit(line: string): Promise<'quit' | undefined> {
    const typed = readTypedLine(line);
    if (typed.kind === 'empty') return undefined;
    if (typed.kind === 'message') {
      this.send(typed.body);
      return undefined;
    }
    switch (typed.name) {
      case 'ME': {
        const action = line.trim().replace(/^\/me\s*/i, '');
        if (action === '') this.state.notify('/ME needs the action — usage: /ME <action>, e.g. /ME waves', 'error');
        else this.send(action, true);
        return undefined;
      }
      case 'QUIT':
        return 'quit';
      case 'SEND':
      case 'SAVE': {
        // They run beside the stream: the line is free again at once.
        const rest = line.trim().replace(/^\/\S+\s*/, '');
        void (typed.name === 'SEND' ? this.files.send(rest) : this.files.save(rest));
        return undefined;
      }
      case 'STOP':
        this.stop(typed.args);
        return undefined;
      case 'START':
        // Going to an open conversation needs no server: it works offline too.
        if (typed.args.length === 1) {
          const open = this.state.find(typed.args[0]);
          if (open) this.state.focus(open);
        }
        break;
      case 'COMMANDS':
        // The list is known already; show it at once and refresh it behind.
        this.state.setOverlay({ kind: 'help' });
        break;
    }
    await this.run(typed.line, (response) => this.show(response));
    return undefined;
  }

  /** Loads the page before the oldest loaded message of a conversation (PageUp at the top). */
  async loadOlder(conversation: Conversation | undefined = this.state.current): Promise<void> {
    if (!conversation || conversation.loadingOlder || conversation.hasMore === false) return;
    const oldest = conversation.oldestId;
    conversation.loadingOlder = true;
    this.state.changed();
    try {
      await this.page(conversation, OLDER_PAGE_SIZE, oldest);
    } finally {
      conversation.loadingOlder = false;
      this.state.changed();
    }
  }

  /**
   * Leaves: waits (bounded) for pending sends to be confirmed, then closes
   * the connection, which tells the server (/QUIT). When sends are still
   * pending and the server is out of reach, it does not close but warns; a
   * second request within QUIT_CONFIRM_MS leaves anyway and reports them.
   */
  quit(): Promise<QuitOutcome> {
    this.quitting ??= this.tryQuit().finally(() => {
      this.quitting = undefined;
    });
    return this.quitting;
  }

  private async tryQuit(): Promise<QuitOutcome> {
    const leaveAnyway = this.clock() < this.quitConfirmUntil;
    let unsent = this.connection.pendingSends();
    if (unsent.length > 0 && !leaveAnyway && this.connection.state === 'connected') {
      this.state.notify(`sending ${plural(unsent.length, 'message')} before leaving…`);
      await this.connection.drain(QUIT_DRAIN_MS);
      unsent = this.connection.pendingSends();
    }
    if (unsent.length > 0 && !leaveAnyway) {
      this.quitConfirmUntil = this.clock() + QUIT_CONFIRM_MS;
      const one = unsent.length === 1;
      this.state.notify(
        `${plural(unsent.length, 'message is', 'messages are')} not sent yet: the server is out of reach. ` +
          `Stay, and ${one ? 'it is' : 'they are'} sent once it is back — or press Ctrl-C (or /QUIT) again to leave anyway.`,
        'error',
      );
      return { done: false };
    }
    await this.connection.close();
    return { done: true, unsent };
  }

  private listen(): void {
    const { connection, state } = this;
    connection.on('message', (message) => {
      const received = state.receive(message);
      this.files.requestPreview(message);
      if (received.opened) void this.page(received.conversation, RECENT_PAGE_SIZE, undefined);
    });
    connection.on('receipt', (sent) => state.sent(sent));
    connection.on('send-failed', (failed) => state.failed(failed));
    connection.on('presence', (change) => state.presence(change));
    connection.on('notice', (text) => state.notify(text));
    connection.on('error', (error) => state.notify(error.message, 'error'));
    connection.on('state', (change) => {
      const before = this.previousState;
      this.previousState = change.state;
      state.connection(change, this.clock());
      if (change.state === 'reconnecting' && before === 'connected') {
        state.notify(`connection lost (${change.reason ?? 'no reason given'}) — reconnecting; what you type is sent once it is back`, 'error', state.home);
      }
      // Presence may have changed while the stream was gone.
      if (change.state === 'connected' && change.reconnect) {
        state.notify('reconnected', 'info', state.home);
        void this.refreshPeople();
      }
    });
  }

  private send(body: string, action = false): void {
    const conversation = this.state.current;
    if (!conversation) {
      this.state.notify('no conversation is open — type /START <name> first (Tab completes names)', 'error');
      return;
    }
    try {
      const clientId = this.connection.send(conversation.peer, body, { action });
      this.state.sending(conversation.peer, clientId, body, new Date(this.clock()), action);
    } catch (err) {
      this.state.notify((err as Error).message, 'error');
    }
  }

  private stop(args: string[]): void {
    if (args.length > 0) {
      this.state.notify('/STOP has no arguments — usage: /STOP (closes the conversation shown)', 'error');
      return;
    }
    const closed = this.state.close();
    if (!closed) {
      this.state.notify('no conversation is open — /START <name> opens one', 'error');
      return;
    }
    const unsent = closed.pending().length;
    this.state.notify(
      `conversation with ${closed.peer} closed${unsent > 0 ? ` (${plural(unsent, 'pending message')} will still be sent)` : ''} — /START ${closed.peer} opens it again`,
    );
  }

  /** Runs a command; a failure becomes an error notice where the person is looking. */
  private async run(line: string, onAnswer: (response: CommandResponse) => void): Promise<void> {
    try {
      onAnswer(await this.connection.command(line));
    } catch (err) {
      this.state.notify((err as Error).message, 'error');
    }
  }

  private async refreshPeople(): Promise<void> {
    await this.run('/USERS', (response) => {
      if (response.result?.$case === 'users') this.takeUsers(response, false);
    });
  }

  private takeUsers(response: CommandResponse, show: boolean): void {
    if (response.result?.$case !== 'users') return;
    this.state.setPeople(
      response.result.users.users.map((user) => ({ name: user.name, online: user.online, lastSeen: user.lastSeen })),
    );
    if (show) this.state.setOverlay({ kind: 'users', people: this.state.roster.list() });
  }

  private takeCommands(response: CommandResponse, show: boolean): void {
    if (response.result?.$case !== 'commands') return;
    this.state.setCommands(response.result.commands.commands);
    if (show) this.state.setOverlay({ kind: 'help' });
  }

  /** Shows the answer to a command typed by the person. */
  private show(response: CommandResponse): void {
    const result = response.result;
    switch (result?.$case) {
      case 'conversation': {
        const { peer, recent, hasMore } = result.conversation;
        this.mergePage(this.state.open(peer, true), recent, hasMore);
        return;
      }
      case 'history': {
        const { peer, messages, hasMore } = result.history;
        const conversation = this.state.open(peer, true);
        this.mergePage(conversation, messages, hasMore);
        const word = messages.length === 1 ? 'message' : 'messages';
        this.state.notify(messages.length === 0 ? `no older messages with ${peer}` : `${messages.length} ${word} loaded`, 'info', conversation);
        return;
      }
      case 'users':
        return this.takeUsers(response, true);
      case 'commands':
        return this.takeCommands(response, this.state.overlay?.kind === 'help');
      case 'time': {
        const time = result.time.time ?? new Date(this.clock());
        this.state.notify(`server time: ${formatClock(time)}, ${formatDay(time)} (your time zone)`);
        return;
      }
      default:
        this.state.notify(response.text);
    }
  }

  /** Fetches one page of a conversation into it. */
  private async page(conversation: Conversation, count: number, beforeId: number | undefined): Promise<void> {
    const line = `/HISTORY ${conversation.peer} ${count}${beforeId === undefined ? '' : ` ${beforeId}`}`;
    try {
      const response = await this.connection.command(line);
      if (response.result?.$case === 'history') this.mergePage(conversation, response.result.history.messages, response.result.history.hasMore);
    } catch (err) {
      this.state.notify(`older messages could not be loaded: ${(err as Error).message}`, 'error', conversation);
    }
  }

  private mergePage(conversation: Conversation, messages: readonly Message[], hasMore: boolean): void {
    const oldestBefore = conversation.oldestId;
    // hasMore speaks of what is older than this page: it is news only when
    // the page reaches at least as far back as what is loaded.
    const reachesBack = messages.length === 0 || oldestBefore === undefined || messages[0].id <= oldestBefore;
    conversation.merge(messages, this.isOwn, reachesBack ? hasMore : undefined);
    for (const message of messages) this.files.requestPreview(message);
    this.state.changed();
  }

  private readonly isOwn = (message: Message): boolean => this.state.isOwn(message);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
