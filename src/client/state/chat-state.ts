import { EventEmitter } from 'node:events';
import type { FileInfo } from '../../gen/tinychat/v1/chat';
import { localPaths } from './local-paths';
import { nameKey } from '../../chat/names';
import { isRoomName } from '../../chat/room-names';
import type { CommandHelp, Message, PresenceChange } from '../../gen/tinychat/v1/chat';
import type { FailedSend, SentMessage, StateChange } from '../events';
import type { CompletionSources } from './completion';
import { ConnectionStatus } from './connection-status';
import { Conversation, type Notice } from './conversation';
import { mentions } from './room-entries';
import { Roster, type Person, type PersonUpdate } from './roster';
import type { SecretPrompt } from './secret-input';

/** A box shown over the conversation until dismissed. */
export type Overlay =
  | { kind: 'help' }
  | { kind: 'users'; people: Person[] }
  /** /SEARCH's answer: the hits, newest first, one of them selected (Up, Down; Enter opens it). */
  | { kind: 'search'; words: string[]; hits: Message[]; hasMore: boolean; selected: number };

/** What happened to a delivered message. */
export interface Received {
  conversation: Conversation;
  /** True when the message opened the conversation (in the background). */
  opened: boolean;
  /** False when the message was already shown. */
  isNew: boolean;
}

/**
 * The commands offered for help and completion until the server's own list
 * (from /COMMANDS) arrives.
 */
export const KNOWN_COMMANDS: readonly CommandHelp[] = [
  { name: '/START', usage: '<name>', summary: 'open a conversation with <name>, or go to it' },
  { name: '/STOP', usage: '', summary: 'close the current conversation' },
  { name: '/HISTORY', usage: '<name> [count] [before-id]', summary: 'page back through a conversation' },
  { name: '/USERS', usage: '', summary: 'list every user, online or offline' },
  { name: '/TIME', usage: '', summary: "show the server's time" },
  { name: '/COMMANDS', usage: '', summary: 'list every command' },
  { name: '/QUIT', usage: '', summary: 'log out and leave' },
];

/** Commands the client itself answers, added to the server's list. */
export const CLIENT_COMMANDS: readonly CommandHelp[] = [
  { name: '/LOGOUT', usage: '', summary: 'end the session and forget it on this computer (the next start asks for the password)' },
  { name: '/ME', usage: '<action>', summary: 'send an action to the conversation shown, shown as "* name action"' },
  { name: '/SEND', usage: '<path>', summary: 'send a file to the conversation shown (Tab completes the path)' },
  { name: '/SAVE', usage: '[n] [folder]', summary: 'save file n of /FILES (1: the newest) into the folder (default: the current one)' },
];

/** Events of ChatState. */
export type ChatStateEvents = {
  /** Something shown changed; render again. */
  change: [];
  /** A message arrived in a conversation the reader is not looking at. */
  bell: [];
};

/**
 * Everything the full-screen client shows, with no screen attached: the open
 * conversations in tab order and which one is shown, unread counts, pending
 * sends, the people and their presence, the connection state and the
 * notices shown when no conversation is open. Every change emits 'change'.
 */
export class ChatState extends EventEmitter<ChatStateEvents> {
  /** Notices shown when no conversation is open. */
  readonly home = new Conversation('');
  readonly roster = new Roster();
  readonly status = new ConnectionStatus();
  /** The server's commands, for help and completion. */
  commands: readonly CommandHelp[] = [...KNOWN_COMMANDS, ...CLIENT_COMMANDS];
  overlay: Overlay | undefined;
  /** A message to bring into view once its conversation is drawn (a search hit chosen), until the view takes it. */
  jump: { key: string; id: number } | undefined;
  /** A masked prompt on the input row (a password asked for), while open. */
  prompt: SecretPrompt | undefined;

  private readonly tabs: Conversation[] = [];
  private currentKey: string | undefined;
  /** Rows the sidebar has, set by the view; 0 while none is shown. */
  private sidebarRows = 0;

  /** The name of the server node connected to, once known (for the status bar; it changes on failover). */
  node: string | undefined;

  constructor(
    /** The reader's name (the registered spelling once connected). */
    public me: string,
    /** The address in use, for the status bar (one of several, which changes on failover). */
    public server: string,
  ) {
    super();
  }

  /** Open conversations, in tab order. */
  get conversations(): readonly Conversation[] {
    return this.tabs;
  }

  /** The conversation shown, or undefined when none is open. */
  get current(): Conversation | undefined {
    return this.currentKey === undefined ? undefined : this.find(this.currentKey);
  }

  /** The open conversation with this peer (any case). */
  find(peer: string): Conversation | undefined {
    const key = nameKey(peer);
    return this.tabs.find((conversation) => conversation.key === key);
  }

  /** True for messages the reader sent. */
  isOwn(message: { sender: string }): boolean {
    return nameKey(message.sender) === nameKey(this.me);
  }

  /** The other person of a message, or its room. */
  peerOf(message: { sender: string; receiver: string; room?: string }): string {
    if (message.room) return message.room;
    return this.isOwn(message) ? message.receiver : message.sender;
  }

  /** Members of the rooms open here, by room key, for completion (kept by the controller). */
  readonly roomMembers = new Map<string, Set<string>>();

  /** Opens a conversation (or finds the open one, taking `peer`'s spelling) and shows it when `focus`. */
  open(peer: string, focus: boolean): Conversation {
    let conversation = this.find(peer);
    if (conversation) conversation.peer = peer;
    else {
      conversation = new Conversation(peer);
      this.tabs.push(conversation);
    }
    if (focus) this.focus(conversation);
    else this.changed();
    return conversation;
  }

  /** Closes a conversation (the current one by default) and shows its right neighbour, else its left one. */
  close(conversation: Conversation | undefined = this.current): Conversation | undefined {
    if (!conversation) return undefined;
    const at = this.tabs.indexOf(conversation);
    if (at < 0) return undefined;
    this.tabs.splice(at, 1);
    if (this.currentKey === conversation.key) {
      this.currentKey = (this.tabs[at] ?? this.tabs[at - 1])?.key;
      this.current?.markRead();
    }
    this.changed();
    return conversation;
  }

  /** Shows a conversation (undefined: the home notices) and clears its unread count. */
  focus(conversation: Conversation | undefined): void {
    const left = this.current;
    // The "new messages" line is for the visit it was drawn for.
    if (left && left !== conversation) left.markerId = undefined;
    this.currentKey = conversation?.key;
    conversation?.markRead();
    this.changed();
  }

  /** Shows the conversation at this tab position (0-based); false when there is none. */
  focusIndex(index: number): boolean {
    const conversation = this.tabs[index];
    if (!conversation) return false;
    this.focus(conversation);
    return true;
  }

  /** Shows the next (delta 1) or previous (delta -1) conversation, wrapping around. */
  cycle(delta: number): void {
    const n = this.tabs.length;
    if (n === 0) return;
    const current = this.current;
    const at = current ? this.tabs.indexOf(current) : delta > 0 ? -1 : 0;
    this.focus(this.tabs[(((at + delta) % n) + n) % n]);
  }

  /**
   * Shows a delivered message in its conversation, opening it in the
   * background when needed. A new message from the peer in a conversation
   * not shown counts as unread and rings the bell.
   */
  receive(message: Message): Received {
    const own = this.isOwn(message);
    const peer = this.peerOf(message);
    const existing = this.find(peer);
    const conversation = existing ?? this.open(peer, false);
    // In a room only a mention rings (and counts apart); a room is busier than a conversation.
    const mention = !own && message.room !== '' && message.roomEvent === 0 && mentions(message.body, this.me);
    const isNew = conversation.add(message, own, mention);
    if (isNew && !own && conversation !== this.current) {
      conversation.countUnread(message.id);
      if (mention) conversation.mentions += 1;
      if (!message.room || mention) this.emit('bell');
    } else if (isNew && mention) {
      this.emit('bell');
    }
    this.changed();
    return { conversation, opened: !existing, isNew };
  }

  /**
   * Adds a page of stored messages (from /START or /HISTORY) to a
   * conversation. Messages from the peer newer than its first unread one
   * count as unread too while it is not shown: in a burst, the page loaded
   * when a message opened the conversation holds messages that have not
   * arrived live yet (and are then not counted again). So do those newer
   * than what was read before this run, in a resumed conversation.
   */
  takePage(conversation: Conversation, messages: readonly Message[], hasMore: boolean | undefined): void {
    // Unread starts after the first message counted, or after what was read before this run.
    const after = conversation.firstUnreadId ?? conversation.readUpTo;
    const counting = conversation !== this.current && after !== undefined;
    for (const message of messages) {
      const own = this.isOwn(message);
      if (conversation.add(message, own) && counting && !own && message.id > after!) conversation.countUnread(message.id);
    }
    if (hasMore !== undefined) conversation.hasMore = hasMore;
    this.changed();
  }

  /** Shows a send just handed to the connection as pending, in the conversation with `peer`. */
  sending(peer: string, clientId: string, body: string, now: Date, action = false, file?: FileInfo): void {
    const conversation = this.find(peer) ?? this.open(peer, false);
    conversation.addPending({ clientId, sender: this.me, receiver: conversation.peer, body, action, file }, now);
    this.changed();
  }

  /** Marks a send as stored. */
  sent(sent: SentMessage): void {
    const conversation = this.find(sent.message.receiver);
    if (!conversation?.confirm(sent)) for (const other of this.tabs) if (other.confirm(sent)) break;
    this.changed();
  }

  /** Marks a send as refused. */
  failed(failed: FailedSend): void {
    const conversation = this.find(failed.receiver);
    if (!conversation?.fail(failed.clientId, failed.reason)) {
      for (const other of this.tabs) if (other.fail(failed.clientId, failed.reason)) return this.changed();
      this.notify(`not sent to ${failed.receiver}: ${failed.reason}`, 'error');
    }
    this.changed();
  }

  /** Number of own sends still pending, in every open conversation. */
  get pendingCount(): number {
    return this.tabs.reduce((sum, conversation) => sum + conversation.pending().length, 0);
  }

  /** Shows a notice in `conversation`, by default the one shown (or the home notices). */
  notify(text: string, tone: Notice['tone'] = 'info', conversation: Conversation | undefined = this.current): void {
    (conversation ?? this.home).note(text, tone, new Date());
    this.changed();
  }

  /** Takes the list of /USERS, answered at `now`. */
  setPeople(users: readonly PersonUpdate[], now = new Date()): void {
    this.roster.replace(users, now);
    this.changed();
  }

  /** Records a presence change; the conversation with that user, if open, says so. */
  presence(change: PresenceChange): void {
    if (!this.roster.update({ name: change.user, online: change.online, lastSeen: change.lastSeen })) return;
    const conversation = this.find(change.user);
    if (conversation && nameKey(change.user) !== nameKey(this.me)) {
      conversation.note(`${change.user} ${change.online ? 'is online' : 'went offline'}`, 'info', change.lastSeen ?? new Date());
    }
    this.changed();
  }

  /** Records a change of the connection at `now` (ms since the epoch). */
  connection(change: StateChange, now: number): void {
    this.status.update(change, now);
    if (change.server) this.server = change.server;
    if (change.state === 'connected') this.node = change.node;
    this.changed();
  }

  /** Takes the server's command list, without /LOGIN (a connection belongs to one user), with the client's own. */
  setCommands(commands: readonly CommandHelp[]): void {
    const usable = commands.filter((command) => command.name.toUpperCase() !== '/LOGIN');
    if (usable.length > 0) this.commands = [...usable, ...CLIENT_COMMANDS];
    this.changed();
  }

  /** Opens a masked prompt on the input row (undefined closes it). */
  setPrompt(prompt: SecretPrompt | undefined): void {
    this.prompt = prompt;
    this.changed();
  }

  /** Shows a box over the conversation (undefined closes it). */
  setOverlay(overlay: Overlay | undefined): void {
    this.overlay = overlay;
    this.changed();
  }

  /** What Tab can complete: command names and every known user name. */
  completionSources(): CompletionSources {
    return {
      commands: this.commands.map((command) => command.name),
      names: [
        ...this.roster.names(),
        ...this.tabs.map((conversation) => conversation.peer),
        ...[...this.roomMembers.values()].flatMap((members) => [...members]),
      ],
      paths: localPaths,
    };
  }

  /**
   * The view says how many rows its sidebar has (0: no sidebar). Changes
   * who is shown in the People rows, so it is a change.
   */
  setSidebarRows(rows: number): void {
    if (rows === this.sidebarRows) return;
    this.sidebarRows = rows;
    this.changed();
  }

  /**
   * The people the People rows of a sidebar of `rows` rows show (by default
   * the view's): everyone, online first, as far as its rows reach (the last
   * row says how many are left out when they do not all fit).
   */
  peopleShown(rows = this.sidebarRows): { people: Person[]; all: number } {
    const people = this.roster.list();
    // Rows above the people: "Conversations", one per conversation (or "none yet"), a blank, "People".
    const room = Math.max(0, rows - 3 - Math.max(1, this.tabs.length));
    const shown = people.length > room ? Math.max(0, room - 1) : people.length;
    return { people: people.slice(0, shown), all: people.length };
  }

  /**
   * Whose presence the client must be told so that every dot it shows is
   * live: the people of the open conversations and of the People rows
   * (never the reader, who is online while this runs).
   */
  watchedNames(): string[] {
    const names = [
      ...this.tabs.filter((conversation) => !isRoomName(conversation.peer)).map((conversation) => conversation.peer),
      ...this.peopleShown().people.map((person) => person.name),
    ];
    return names.filter((name) => nameKey(name) !== nameKey(this.me));
  }

  /** Tells listeners that something shown changed. */
  changed(): void {
    this.emit('change');
  }
}
