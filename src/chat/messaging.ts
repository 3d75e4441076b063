import { ChatError } from './errors';
import type { Caller } from './accounts';
import { SendRateLimiter } from './send-rate';
import type { SendOrder } from './send-order';
import type { UserDirectory, UserRef } from './user-directory';
import type { AppendBatcher } from '../store/append-batcher';
import type { AppendResult, FileRef, MessageKind, StoredMessage, Store } from '../store/store';

/** Largest message body by default, in bytes of UTF-8. */
export const MAX_BODY_BYTES = 4096;
/** Longest client-chosen message id, in characters. */
export const MAX_CLIENT_ID_LENGTH = 64;
/** Default and largest page sizes for conversation reads. */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 200;

/** What a client asks to send. */
export interface SendRequest {
  clientId: string;
  /** Empty means the conversation opened with /START in this session. */
  receiver: string;
  body: string;
  /** 'text' when absent. */
  messageKind?: MessageKind;
  /** Makes it a file message; the body may then be empty (the file's name is used). */
  file?: FileRef;
}

/** Checks the file of a file message before it is stored (files/file-transfers.ts); resolves with the FileRef to store. */
export interface AttachmentCheck {
  checkAttachment(userId: number, file: FileRef): Promise<FileRef>;
}

/** A page of a conversation, oldest message first. */
export interface ConversationPage {
  peer: UserRef;
  messages: StoredMessage[];
  hasMore: boolean;
  /** The id to pass as before-id for the next older page; 0 when there is none. */
  nextBeforeId: number;
}

/**
 * Sending and reading messages: validation, addressing and storage. Delivery
 * to streams happens elsewhere (queue/), after the store has the message.
 */
export class Messaging {
  constructor(
    private readonly store: Store,
    private readonly batcher: AppendBatcher,
    private readonly users: UserDirectory,
    private readonly rate: SendRateLimiter = new SendRateLimiter(),
    /** The largest body accepted, in UTF-8 bytes (told to clients when a stream opens). */
    readonly maxBodyBytes = MAX_BODY_BYTES,
    private readonly clock: () => number = Date.now,
    /** Without it, file messages are refused. */
    private readonly attachments?: AttachmentCheck,
  ) {}

  /**
   * Stores one message from the caller. Resolves once it is durable; a retry
   * with the same client id resolves with the original (duplicate: true).
   * Sends made with one `order` are stored in the order they were made.
   */
  async send(caller: Caller, request: SendRequest, order?: SendOrder): Promise<AppendResult> {
    const turn = order?.next();
    try {
      checkClientId(request.clientId);
      const file = request.file && (await this.checkFile(caller, request.file));
      const body = file && request.body.trim().length === 0 ? file.name : request.body;
      checkBody(body, this.maxBodyBytes);
      this.rate.take(caller.user.id);
      const receiver = request.receiver ? await this.users.resolve(request.receiver) : await this.openPeer(caller);
      await turn?.ready;
      // Joins the batcher's queue now, before the turn passes to the next send.
      return this.batcher.append({
        senderId: caller.user.id,
        receiverId: receiver.id,
        clientId: request.clientId,
        body,
        time: this.clock(),
        kind: request.messageKind ?? 'text',
        ...(file && { file }),
      });
    } finally {
      turn?.done();
    }
  }

  /** One page of the conversation between the caller and `peerName`, going back from `beforeId`. */
  async page(caller: Caller, peerName: string, count = DEFAULT_PAGE_SIZE, beforeId?: number): Promise<ConversationPage> {
    const peer = await this.users.resolve(peerName);
    const newestFirst = await this.store.conversation(caller.user.id, peer.id, { beforeId, limit: count + 1 });
    const hasMore = newestFirst.length > count;
    const messages = newestFirst.slice(0, count).reverse();
    return { peer, messages, hasMore, nextBeforeId: hasMore && messages.length > 0 ? messages[0].id : 0 };
  }

  private async checkFile(caller: Caller, file: FileRef): Promise<FileRef> {
    if (!this.attachments) throw new ChatError('failed-precondition', 'this server does not take files — send text');
    return this.attachments.checkAttachment(caller.user.id, file);
  }

  private async openPeer(caller: Caller): Promise<UserRef> {
    // Read from the store, not the Caller snapshot: /START may have run since
    // this stream opened, possibly on another server node.
    const session = await this.store.findSession(caller.session.tokenHash);
    const peerId = session?.peerId;
    const peer = peerId === undefined ? undefined : await this.store.findUserById(peerId);
    if (!peer) {
      throw new ChatError('failed-precondition', 'no conversation is open — name a receiver, or open one with /START <name>');
    }
    return { id: peer.id, name: peer.name };
  }
}

export function checkClientId(clientId: string): void {
  if (!clientId) {
    throw new ChatError('invalid-argument', 'each send needs a client_id (any unique string, e.g. a UUID) so that retries are not stored twice');
  }
  if (clientId.length > MAX_CLIENT_ID_LENGTH) {
    throw new ChatError('invalid-argument', `client_id is too long: at most ${MAX_CLIENT_ID_LENGTH} characters`);
  }
}

// C0 controls other than tab and newline, DEL and C1 controls. (Bytes that
// are not valid UTF-8 never get this far: the rpc edge refuses them.)
const FORBIDDEN_IN_BODY = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

export function checkBody(body: string, maxBytes: number): void {
  if (body.trim().length === 0) {
    throw new ChatError('invalid-argument', 'the message is empty — type some text to send');
  }
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > maxBytes) {
    throw new ChatError('invalid-argument', `the message is too long (${bytes} bytes): at most ${maxBytes} bytes — split it into several messages`);
  }
  const bad = FORBIDDEN_IN_BODY.exec(body);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new ChatError('invalid-argument', `the message contains the control character U+${code} — send plain text (newlines and tabs are fine)`);
  }
}
