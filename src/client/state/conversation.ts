import { nameKey } from '../../chat/names';
import { MessageKind, type Message } from '../../gen/tinychat/v1/chat';
import type { SentMessage } from '../events';
import { roomEntryShown } from './room-entries';
import type { FileInfo } from '../../gen/tinychat/v1/chat';

/** Where an own message is: typed but not yet stored, stored, or refused by the server. */
export type Delivery = 'pending' | 'sent' | 'failed';

/** One message in a conversation. */
export interface ChatMessage {
  kind: 'message';
  /** Stable for the life of the entry (also from pending to sent), for keeping the view in place. */
  key: string;
  /** The server's id once stored. */
  id: number | undefined;
  sender: string;
  receiver: string;
  body: string;
  /** True for an action (/ME): shown as "* sender body". */
  action: boolean;
  /** The server's time once stored; the local time of typing while pending. */
  time: Date;
  /** True for the reader's own messages. */
  own: boolean;
  delivery: Delivery;
  /** Why the server refused it, for 'failed'. */
  failure?: string;
  /** True when someone else's message mentions the reader (@name): highlighted. */
  mention?: boolean;
  /** Set for a file message. */
  file?: FileInfo;
}

/** A line from the client itself: an answer to a command, an error, a change of presence. */
export interface Notice {
  kind: 'notice';
  key: string;
  text: string;
  tone: 'info' | 'error';
  time: Date;
}

/** What a conversation shows, in order. */
export type TimelineEntry = ChatMessage | Notice;

interface Slot {
  entry: TimelineEntry;
  // Stored messages sort by id. Everything else sorts right after the newest
  // stored message there was when it was added (rank 1), in the order it was
  // added (seq): a pending send stays where it was typed until its receipt
  // gives it its place, and older pages load above notices.
  order: number;
  rank: 0 | 1;
  seq: number;
}

let nextSeq = 0;

function before(a: Slot, b: Slot): boolean {
  return a.order !== b.order ? a.order < b.order : a.rank !== b.rank ? a.rank < b.rank : a.seq < b.seq;
}

/**
 * One conversation with one peer: its messages in the server's order, each
 * shown once however often it arrives (live, in /START's recent list, in a
 * /HISTORY page), own sends from pending to sent, notices, the unread count,
 * and what is known about older history.
 */
export class Conversation {
  /** The peer's name key: unique and case-insensitive. */
  readonly key: string;
  /** The peer's name, in the registered spelling once the server told it. */
  peer: string;
  /** Messages from the peer that arrived while another conversation was shown. */
  unread = 0;
  /** Of those, the ones that mention the reader (counted apart, in rooms). */
  mentions = 0;
  /** Whether the server has older messages than the oldest loaded; undefined until it said. */
  hasMore: boolean | undefined;
  /** True while an older page is being fetched. */
  loadingOlder = false;
  /** The id of the oldest message counted in `unread`, while there are unread ones. */
  firstUnreadId: number | undefined;
  /** The newest id read before this run (a resumed conversation): newer messages from the peer in a page are unread. */
  readUpTo: number | undefined;

  private marker: number | undefined;

  private readonly slots: Slot[] = [];
  private readonly byId = new Map<number, Slot>();
  private readonly byClientId = new Map<string, Slot>();
  private newestId = 0;
  private changes = 0;

  constructor(peer: string) {
    this.peer = peer;
    this.key = nameKey(peer);
  }

  /** Grows with every change of the entries, so a view can keep its layout until then. */
  get revision(): number {
    return this.changes;
  }

  /** The id of the message a "new messages" line is drawn above: the first one unread when the conversation was opened. */
  get markerId(): number | undefined {
    return this.marker;
  }

  set markerId(id: number | undefined) {
    if (id === this.marker) return;
    this.marker = id;
    this.changes += 1;
  }

  /**
   * Counts a message from the peer as unread; the first one counted is
   * where the "new messages" line goes once the conversation is shown.
   */
  countUnread(id: number): void {
    if (this.unread === 0 || this.firstUnreadId === undefined || id < this.firstUnreadId) this.firstUnreadId = id;
    this.unread += 1;
  }

  /** The reader looks at the conversation: nothing is unread, and the line marks where the unread ones began. */
  markRead(): void {
    if (this.unread > 0) this.markerId = this.firstUnreadId;
    this.unread = 0;
    this.mentions = 0;
    this.firstUnreadId = undefined;
  }

  /** Everything to show, oldest first. */
  entries(): TimelineEntry[] {
    return this.slots.map((slot) => slot.entry);
  }

  /** Own sends not yet stored, oldest first. */
  pending(): ChatMessage[] {
    return this.entries().filter((entry): entry is ChatMessage => entry.kind === 'message' && entry.delivery === 'pending');
  }

  /** The smallest stored id loaded: where the next older page ends. */
  get oldestId(): number | undefined {
    for (const slot of this.slots) if (slot.rank === 0) return slot.order;
    return undefined;
  }

  /** The newest stored id loaded (0: none). */
  get newestStoredId(): number {
    return this.newestId;
  }

  /** The newest id the reader has read here: everything loaded, but what is counted unread. */
  get readId(): number {
    return this.firstUnreadId !== undefined ? this.firstUnreadId - 1 : Math.max(this.newestId, this.readUpTo ?? 0);
  }

  /** Number of stored messages loaded. */
  get storedCount(): number {
    return this.byId.size;
  }

  /** True when the message with this id is shown. */
  has(id: number): boolean {
    return this.byId.has(id);
  }

  /** Adds a stored message (a room entry reads as roomEntryShown says); false when it is already shown. */
  add(message: Message, own: boolean, mention = false): boolean {
    if (this.byId.has(message.id)) return false;
    const shown = message.room ? roomEntryShown(message) : { body: message.body, action: message.kind === MessageKind.MESSAGE_KIND_ACTION };
    const entry: ChatMessage = {
      kind: 'message',
      key: `m:${message.id}`,
      id: message.id,
      sender: message.sender,
      receiver: message.receiver,
      body: shown.body,
      action: shown.action,
      time: message.time ?? new Date(),
      own,
      delivery: 'sent',
      ...(mention ? { mention } : {}),
      ...(message.file && { file: message.file }),
    };
    const slot: Slot = { entry, order: message.id, rank: 0, seq: nextSeq++ };
    this.byId.set(message.id, slot);
    this.newestId = Math.max(this.newestId, message.id);
    this.insert(slot);
    return true;
  }

  /** Adds a page of stored messages (from /START or /HISTORY); returns how many were new. */
  merge(messages: readonly Message[], isOwn: (message: Message) => boolean, hasMore?: boolean): number {
    let added = 0;
    for (const message of messages) if (this.add(message, isOwn(message))) added += 1;
    if (hasMore !== undefined) this.hasMore = hasMore;
    return added;
  }

  /** Shows an own message that was just typed, as pending. */
  addPending(send: { clientId: string; sender: string; receiver: string; body: string; action?: boolean; file?: FileInfo }, time: Date): void {
    const entry: ChatMessage = {
      kind: 'message',
      key: `c:${send.clientId}`,
      id: undefined,
      sender: send.sender,
      receiver: send.receiver,
      body: send.body,
      action: send.action ?? false,
      time,
      own: true,
      delivery: 'pending',
      ...(send.file && { file: send.file }),
    };
    const slot: Slot = { entry, order: this.newestId, rank: 1, seq: nextSeq++ };
    this.byClientId.set(send.clientId, slot);
    this.insert(slot);
  }

  /** Marks a pending send as stored and moves it to its place; false when the clientId is not known here. */
  confirm(sent: SentMessage): boolean {
    const slot = this.byClientId.get(sent.clientId);
    if (!slot || slot.entry.kind !== 'message') return false;
    this.byClientId.delete(sent.clientId);
    this.remove(slot);
    // A page or another terminal may have shown the stored message already.
    if (this.byId.has(sent.message.id)) return true;
    const entry = slot.entry;
    entry.id = sent.message.id;
    entry.time = sent.message.time ?? entry.time;
    entry.receiver = sent.message.receiver || entry.receiver;
    entry.delivery = 'sent';
    slot.order = sent.message.id;
    slot.rank = 0;
    this.byId.set(sent.message.id, slot);
    this.newestId = Math.max(this.newestId, sent.message.id);
    this.insert(slot);
    return true;
  }

  /** Marks a pending send as refused, with the server's reason; false when the clientId is not known here. */
  fail(clientId: string, reason: string): boolean {
    const slot = this.byClientId.get(clientId);
    if (!slot || slot.entry.kind !== 'message') return false;
    this.byClientId.delete(clientId);
    slot.entry.delivery = 'failed';
    slot.entry.failure = reason;
    this.changes += 1;
    return true;
  }

  /** Adds a notice after everything shown so far. */
  note(text: string, tone: Notice['tone'], time: Date): void {
    const seq = nextSeq++;
    this.insert({ entry: { kind: 'notice', key: `n:${seq}`, text, tone, time }, order: this.newestId, rank: 1, seq });
  }

  private insert(slot: Slot): void {
    this.changes += 1;
    let at = this.slots.length;
    while (at > 0 && before(slot, this.slots[at - 1])) at -= 1;
    this.slots.splice(at, 0, slot);
  }

  private remove(slot: Slot): void {
    this.changes += 1;
    const at = this.slots.lastIndexOf(slot);
    if (at >= 0) this.slots.splice(at, 1);
  }
}
