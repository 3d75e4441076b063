import { randomUUID } from 'node:crypto';
import { ChatError } from './errors';
import type { Caller } from './accounts';
import { checkBody, checkClientId, DEFAULT_PAGE_SIZE } from './messaging';
import type { OnlineDirectory } from './online';
import { validateRoomName } from './room-names';
import { DEFAULT_SEND_RATE, SendRateLimiter, type SendRateLimit } from './send-rate';
import type { SendOrder } from './send-order';
import type { UserDirectory } from './user-directory';
import type { JoinOutcome, RoomAppendResult, RoomListing, RoomRecord } from '../store/room-store';
import type { AppendResult, MessageKind, Store, StoredMessage } from '../store/store';

/** The room limits the server enforces (flags in config.ts). */
export interface RoomLimitsConfig {
  /** Members a room may have. */
  maxMembers: number;
  /** Rooms a user may be a member of at once. */
  maxRooms: number;
  /** Room messages per second per user (token bucket, over all rooms); perSecond 0: no limit. */
  postRate: SendRateLimit;
}

export const DEFAULT_ROOM_LIMITS: RoomLimitsConfig = {
  maxMembers: 1000,
  maxRooms: 100,
  postRate: { perSecond: DEFAULT_SEND_RATE.perSecond / 4, burst: DEFAULT_SEND_RATE.burst / 4 },
};

/**
 * Where written room entries go once stored: to the members' queues on this
 * node and over the bus to the others (queue/online-registry.ts).
 */
export interface RoomDelivery {
  routeRoom(result: RoomAppendResult): void;
}

/** A room member as /MEMBERS shows them. */
export interface MemberStatus {
  name: string;
  online: boolean;
  owner: boolean;
}

/** A page of a room, oldest entry first. */
export interface RoomPage {
  room: RoomRecord;
  messages: StoredMessage[];
  hasMore: boolean;
  nextBeforeId: number;
}

/**
 * Rooms: who may see, join, post to and change a room, and the writes that
 * follow. The store checks membership and limits again inside each write
 * (room-store.ts); what is read here first serves the answers people get.
 * Every written entry is routed to the members.
 */
export class Rooms {
  private readonly rate: SendRateLimiter;

  constructor(
    private readonly store: Store,
    private readonly users: UserDirectory,
    private readonly online: OnlineDirectory,
    private readonly delivery: RoomDelivery,
    readonly limits: RoomLimitsConfig = DEFAULT_ROOM_LIMITS,
    private readonly maxBodyBytes = 4096,
    private readonly clock: () => number = Date.now,
  ) {
    this.rate = new SendRateLimiter(limits.postRate, clock);
  }

  /** Joins (creating when new) the room. */
  async join(caller: Caller, name: string, isPrivate: boolean): Promise<JoinOutcome> {
    validateRoomName(name);
    const outcome = await this.store.joinRoom({
      name,
      userId: caller.user.id,
      createPrivate: isPrivate,
      clientId: serverClientId('join'),
      time: this.clock(),
      limits: { maxMembers: this.limits.maxMembers, maxRooms: this.limits.maxRooms },
    });
    this.delivery.routeRoom(outcome.result);
    return outcome;
  }

  /** Leaves the room. */
  async leave(caller: Caller, name: string): Promise<RoomRecord> {
    const room = await this.memberRoom(caller, name);
    this.delivery.routeRoom(await this.store.leaveRoom(room.id, caller.user.id, serverClientId('leave'), this.clock()));
    return room;
  }

  /** Removes `userName` from the room; only its owner may. */
  async kick(caller: Caller, name: string, userName: string): Promise<{ room: RoomRecord; user: string }> {
    const room = await this.memberRoom(caller, name);
    if (room.ownerId !== caller.user.id) {
      throw new ChatError('permission-denied', `only ${room.owner}, who owns ${room.name}, can remove members`);
    }
    const user = await this.users.resolve(userName);
    if (user.id === caller.user.id) throw new ChatError('invalid-argument', `you cannot remove yourself — /LEAVE ${room.name} leaves it`);
    this.delivery.routeRoom(await this.store.leaveRoom(room.id, user.id, serverClientId('kick'), this.clock(), caller.user.id));
    return { room, user: user.name };
  }

  /** Sets the room's topic (empty clears it); any member may. */
  async setTopic(caller: Caller, name: string, topic: string): Promise<RoomRecord> {
    const room = await this.memberRoom(caller, name);
    if (topic.trim() !== '') checkBody(topic, Math.min(this.maxBodyBytes, 512));
    const result = await this.store.postToRoom({
      roomId: room.id,
      senderId: caller.user.id,
      clientId: serverClientId('topic'),
      body: topic.trim(),
      time: this.clock(),
      event: 'topic',
    });
    this.delivery.routeRoom(result);
    return { ...room, topic: topic.trim() };
  }

  /** Invites `userName`; any member may. */
  async invite(caller: Caller, name: string, userName: string): Promise<{ room: RoomRecord; user: string; outcome: string }> {
    const room = await this.memberRoom(caller, name);
    const user = await this.users.resolve(userName);
    const outcome = await this.store.inviteToRoom(room.id, user.id);
    return { room, user: user.name, outcome };
  }

  /** Rooms the caller is in or may join. */
  list(caller: Caller): Promise<RoomListing[]> {
    return this.store.listRooms(caller.user.id);
  }

  /** The room's members, with who is online. */
  async members(caller: Caller, name: string): Promise<{ room: RoomRecord; members: MemberStatus[] }> {
    const room = await this.memberRoom(caller, name);
    const members = (await this.store.roomMembers(room.id)).map((m) => ({
      name: m.name,
      online: this.online.isOnline(m.userId),
      owner: m.userId === room.ownerId,
    }));
    return { room, members };
  }

  /** One page of the room as the caller received it, going back from `beforeId`. */
  async page(caller: Caller, name: string, count = DEFAULT_PAGE_SIZE, beforeId?: number): Promise<RoomPage> {
    const room = await this.memberRoom(caller, name);
    const newestFirst = await this.store.roomHistory(room.id, caller.user.id, { beforeId, limit: count + 1 });
    const hasMore = newestFirst.length > count;
    const messages = newestFirst.slice(0, count).reverse();
    return { room, messages, hasMore, nextBeforeId: hasMore && messages.length > 0 ? messages[0].id : 0 };
  }

  /**
   * Stores a message to the room; resolves once durable (a retry with the
   * same client id resolves with the original, duplicate: true). Posts made
   * with one `order` are stored in the order they were made.
   */
  async post(
    caller: Caller,
    request: { clientId: string; receiver: string; body: string; messageKind?: MessageKind; file?: unknown },
    order?: SendOrder,
  ): Promise<RoomAppendResult> {
    const turn = order?.next();
    try {
      checkClientId(request.clientId);
      // Refused rather than stored without its file: a room's members could not download it.
      if (request.file) throw new ChatError('failed-precondition', `files go to one person, not to a room yet — send it with /SEND in a conversation with each person`);
      checkBody(request.body, this.maxBodyBytes);
      const room = await this.visibleRoom(caller, request.receiver);
      this.rate.take(caller.user.id);
      await turn?.ready;
      // The turn passes on once this post is stored: on a database server
      // two transactions started in order may commit in either order.
      return await this.store.postToRoom({
        roomId: room.id,
        senderId: caller.user.id,
        clientId: request.clientId,
        body: request.body,
        time: this.clock(),
        event: 'message',
        kind: request.messageKind ?? 'text',
      });
    } finally {
      turn?.done();
    }
  }

  /**
   * The room if the caller may know of it: NOT_FOUND for no room and for a
   * private room the caller is neither in nor invited to (it does not show
   * that such a room exists).
   */
  private async visibleRoom(caller: Caller, name: string): Promise<RoomRecord> {
    validateRoomName(name);
    const room = await this.store.findRoom(name);
    if (room && (!room.private || (await this.store.isRoomMember(room.id, caller.user.id)) || (await this.store.isInvited(room.id, caller.user.id)))) {
      return room;
    }
    throw new ChatError('not-found', `there is no room ${name} you can see — /ROOMS lists them, /JOIN ${name} creates it`);
  }

  /** The room, if the caller is a member: PERMISSION_DENIED for a room they can see but are not in. */
  private async memberRoom(caller: Caller, name: string): Promise<RoomRecord> {
    const room = await this.visibleRoom(caller, name);
    if (!(await this.store.isRoomMember(room.id, caller.user.id))) {
      throw new ChatError('permission-denied', `you are not a member of ${room.name} — /JOIN ${room.name} first`);
    }
    return room;
  }
}

/** A client id for an entry the server writes itself (joins, leaves, topics): never repeated. */
function serverClientId(what: string): string {
  return `${what}:${randomUUID()}`;
}

/** The receipt of a room post: it names the room as receiver, with the sender's own inbox sequence. */
export function roomPostReceipt(result: RoomAppendResult): AppendResult {
  return { message: { ...result.message, receiver: result.message.room ?? result.message.receiver }, duplicate: result.duplicate };
}
