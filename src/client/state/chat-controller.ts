import type { ChatConnection, PendingSend, StateChange } from '../connection';
import { nameKey } from '../../chat/names';
import { isRoomName } from '../../chat/room-names';
import { RoomEvent, type CommandResponse, type Message } from '../../gen/tinychat/v1/chat';
import { withShownRoom } from '../room-line';
import { formatClock } from '../format';
import type { ChatState } from './chat-state';
import type { Conversation } from './conversation';
import { formatDay } from './local-time';
import { SecretPrompt } from './secret-input';
import { readTypedLine } from './typed-line';
import { FileBoard } from './file-board';

/** Messages fetched per PageUp at the top of a conversation. */
export const OLDER_PAGE_SIZE = 50;
/** Messages fetched when a conversation opens because a message arrived. */
export const RECENT_PAGE_SIZE = 20;
/** How many older pages a chosen search hit may load before giving up. */
export const MAX_JUMP_PAGES = 40;
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
  /**
   * True when the session outlives the client (it was saved for the next
   * run): leaving then keeps it on the server; /LOGOUT ends it.
   */
  keepSession = false;
  /** Called on /LOGOUT, before leaving: forget what was saved. */
  onLogout: (() => void) | undefined;
  private quitConfirmUntil = 0;
  private quitting: Promise<QuitOutcome> | undefined;
  private previousState: StateChange['state'] = 'idle';
  private watchCheckQueued = false;

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
    if (this.connection.registeredAccount) this.state.notify(`a new account, ${this.state.me}, was created with the password you gave`, 'info', this.state.home);
    this.state.changed();
    await Promise.all([this.refreshPeople(), this.run('/COMMANDS', (response) => this.takeCommands(response, false)), this.openRooms()]);
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
      case 'PASSWORD':
        // Without arguments, the passwords are asked for in a masked prompt.
        if (typed.args.length === 0) {
          this.askPasswords();
          return undefined;
        }
        break;
      case 'QUIT':
        return 'quit';
      case 'LOGOUT':
        if (typed.args.length > 0) {
          this.state.notify('/LOGOUT has no arguments — usage: /LOGOUT (ends the session and forgets it on this computer)', 'error');
          return undefined;
        }
        this.keepSession = false;
        this.onLogout?.();
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
          // A room is open already when one is a member: nothing to ask.
          if (isRoomName(typed.args[0])) {
            if (!open) this.state.notify(`${typed.args[0]} is not open here — /JOIN ${typed.args[0]} joins it`, 'error');
            return undefined;
          }
        }
        break;
      case 'COMMANDS':
        // The list is known already; show it at once and refresh it behind.
        this.state.setOverlay({ kind: 'help' });
        break;
    }
    await this.run(withShownRoom(typed.line, this.state.current?.peer), (response) => this.show(response));
    return undefined;
  }

  /**
   * Asks for the current password and the new one twice, masked, then
   * changes it (as split arguments, so spaces and quotes are part of them).
   */
  private askPasswords(): void {
    const prompt = new SecretPrompt(['current password', 'new password', 'new password again'], ([current, next, again]) => {
      this.state.setPrompt(undefined);
      if (next !== again) {
        this.state.notify('the two new passwords differ — the password was not changed; type /PASSWORD to try again', 'error');
        return;
      }
      void this.invoke('PASSWORD', [current, next]);
    });
    this.state.setPrompt(prompt);
  }

  private async invoke(name: string, args: string[]): Promise<void> {
    try {
      this.show(await this.connection.invoke(name, args));
    } catch (err) {
      this.state.notify((err as Error).message, 'error');
    }
  }

  /**
   * Opens the conversations of an earlier run again, each with its latest
   * page; messages from the peer after `readId` count as unread. Then shows
   * the one that was shown, from its "new messages" line.
   */
  async resume(conversations: ReadonlyArray<{ peer: string; readId: number }>, current: string | undefined): Promise<void> {
    const opened = conversations.map(({ peer, readId }) => {
      const conversation = this.state.open(peer, false);
      conversation.readUpTo = readId;
      return conversation;
    });
    await Promise.all(opened.map((conversation) => this.page(conversation, RECENT_PAGE_SIZE, undefined)));
    const shown = current === undefined ? undefined : this.state.find(current);
    if (shown) this.state.focus(shown);
  }

  /**
   * Opens the conversation of a message (a search hit) and loads older
   * pages until the message is among them, then asks the view to bring it
   * into view. Gives up, saying so, after MAX_JUMP_PAGES pages.
   */
  async openAt(message: Message): Promise<void> {
    const conversation = this.state.open(this.state.peerOf(message), true);
    if (conversation.storedCount === 0) await this.page(conversation, RECENT_PAGE_SIZE, undefined);
    for (let pages = 0; !conversation.has(message.id) && conversation.hasMore !== false && pages < MAX_JUMP_PAGES; pages += 1) {
      const oldest = conversation.oldestId;
      await this.loadOlder(conversation);
      if (conversation.oldestId === oldest) break;
    }
    if (!conversation.has(message.id)) {
      this.state.notify(`message #${message.id} is further back than ${MAX_JUMP_PAGES * OLDER_PAGE_SIZE} messages — PageUp goes on loading`, 'error', conversation);
      return;
    }
    this.state.jump = { key: conversation.key, id: message.id };
    this.state.changed();
  }

  /** Opens every room the user is a member of, in the background, with its latest entries and members. */
  private async openRooms(): Promise<void> {
    let response: CommandResponse;
    try {
      response = await this.connection.command('/ROOMS');
    } catch (err) {
      this.state.notify(`your rooms could not be listed: ${(err as Error).message}`, 'error');
      return;
    }
    if (response.result?.$case !== 'rooms') return;
    const mine = response.result.rooms.rooms.filter((room) => room.member);
    await Promise.all(mine.map((room) => this.openRoom(room.name, false)));
  }

  private async openRoom(name: string, focus: boolean): Promise<void> {
    const conversation = this.state.open(name, focus);
    await Promise.all([this.page(conversation, RECENT_PAGE_SIZE, undefined), this.loadMembers(name)]);
  }

  private async loadMembers(room: string): Promise<void> {
    try {
      const response = await this.connection.command(`/MEMBERS ${room}`);
      if (response.result?.$case === 'roomMembers') this.takeMembers(response.result.roomMembers.room, response.result.roomMembers.members.map((m) => m.name));
    } catch {
      // Completion then offers fewer names; the room itself still works.
    }
  }

  private takeMembers(room: string, names: string[]): void {
    this.state.roomMembers.set(nameKey(room), new Set(names));
    this.state.changed();
  }

  /** Keeps a room's members current from its joins, leaves and kicks (for completion). */
  private followMembers(message: Message): void {
    const members = this.state.roomMembers.get(nameKey(message.room));
    if (!members) return;
    if (message.roomEvent === RoomEvent.ROOM_EVENT_JOINED) members.add(message.sender);
    else if (message.roomEvent === RoomEvent.ROOM_EVENT_LEFT) members.delete(message.sender);
    else if (message.roomEvent === RoomEvent.ROOM_EVENT_KICKED) members.delete(message.body);
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
    await this.connection.close({ keepSession: this.keepSession });
    return { done: true, unsent };
  }

  private listen(): void {
    const { connection, state } = this;
    connection.on('message', (message) => {
      if (message.room) this.followMembers(message);
      const received = state.receive(message);
      this.files.requestPreview(message);
      if (received.opened) void this.page(received.conversation, RECENT_PAGE_SIZE, undefined);
    });
    connection.on('receipt', (sent) => state.sent(sent));
    connection.on('send-failed', (failed) => state.failed(failed));
    connection.on('presence', (change) => state.presence(change));
    // Who is shown may change with anything; the connection tells the server only when the set did.
    state.on('change', () => this.queueWatchCheck());
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

  /** Once the present burst of changes is over, watches exactly the people shown. */
  private queueWatchCheck(): void {
    if (this.watchCheckQueued) return;
    this.watchCheckQueued = true;
    queueMicrotask(() => {
      this.watchCheckQueued = false;
      this.connection.watch(this.state.watchedNames());
    });
  }

  private send(body: string, action = false): void {
    const conversation = this.state.current;
    if (!conversation) {
      this.state.notify('no conversation is open — type /START <name> or /JOIN #room first (Tab completes names)', 'error');
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
      case 'search': {
        const { words, messages, hasMore } = result.search;
        if (messages.length === 0) this.state.notify(response.text);
        else this.state.setOverlay({ kind: 'search', words, hits: messages, hasMore, selected: 0 });
        return;
      }
      case 'roomJoined': {
        const name = result.roomJoined.room?.name ?? '';
        void this.openRoom(name, true).then(() => this.state.notify(response.text, 'info', this.state.find(name)));
        return;
      }
      case 'roomHistory': {
        const { room, messages, hasMore } = result.roomHistory;
        const conversation = this.state.find(room);
        if (!conversation) return this.state.notify(response.text);
        this.mergePage(conversation, messages, hasMore);
        const word = messages.length === 1 ? 'entry' : 'entries';
        this.state.notify(messages.length === 0 ? `nothing older in ${room}` : `${messages.length} ${word} loaded`, 'info', conversation);
        return;
      }
      case 'roomMembers':
        this.takeMembers(result.roomMembers.room, result.roomMembers.members.map((m) => m.name));
        this.state.notify(response.text);
        return;
      case 'roomChanged': {
        const { room, event } = result.roomChanged;
        const conversation = this.state.find(room);
        if (event === RoomEvent.ROOM_EVENT_LEFT && conversation) {
          this.state.close(conversation);
          this.state.roomMembers.delete(nameKey(room));
          this.state.notify(`${response.text} — /JOIN ${room} to come back`);
          return;
        }
        this.state.notify(response.text);
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
      if (response.result?.$case === 'roomHistory') this.mergePage(conversation, response.result.roomHistory.messages, response.result.roomHistory.hasMore);
    } catch (err) {
      this.state.notify(`older messages could not be loaded: ${(err as Error).message}`, 'error', conversation);
    }
  }

  private mergePage(conversation: Conversation, messages: readonly Message[], hasMore: boolean): void {
    const oldestBefore = conversation.oldestId;
    // hasMore speaks of what is older than this page: it is news only when
    // the page reaches at least as far back as what is loaded.
    const reachesBack = messages.length === 0 || oldestBefore === undefined || messages[0].id <= oldestBefore;
    this.state.takePage(conversation, messages, reachesBack ? hasMore : undefined);
    for (const message of messages) this.files.requestPreview(message);
  }
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
