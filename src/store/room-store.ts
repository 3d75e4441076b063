/**
 * Rooms in the store: rooms, membership and the room log, fanned out on write
 * into each member's inbox (see the README's Rooms section).
 *
 * The contract, checked for every backend by test/contract/room-contract.ts:
 *
 * - Names are unique regardless of case; a room keeps the spelling it was
 *   created with. Callers validate names first (chat/room-names.ts).
 * - Every change to a room is an entry of its log: a message, a join, a
 *   leave, a kick, a topic. Writing an entry, the membership change it
 *   records and one inbox entry for each member happen in one transaction,
 *   durable when the call resolves. The entry goes to the members after the
 *   change for a join (the newcomer sees their own join) and before it for a
 *   leave or kick (the one leaving sees it last).
 * - Each member's inbox entry takes that member's next sequence number: the
 *   one inbox of store.ts, shared with one-to-one messages, 1, 2, 3, … with
 *   no gaps and no repeats. `inboxAfter` returns both kinds in sequence
 *   order. Entries of one room reach every member in the same order (log
 *   ids increase in the room's order: writes to one room are serialized).
 * - Posting is idempotent on (senderId, clientId) among room entries: a
 *   repeat stores nothing, fans out nothing and returns the original with
 *   `duplicate: true`.
 * - Only members post: a non-member's post rejects with
 *   ChatError('permission-denied'), checked in the same transaction, so a
 *   post racing with the poster's leave or kick is either before it in the
 *   log or refused.
 * - A private room is joined only with an invitation (the invitation is used
 *   up by the join); to anyone neither member nor invited it does not exist:
 *   ChatError('not-found'). A room has at most `maxMembers` members, a user
 *   is in at most `maxRooms` rooms (ChatError('resource-exhausted')).
 * - History: a member reads the room's entries delivered to their own inbox
 *   (so nothing from before their join), newest first.
 * - Retention deletes a log entry together with every inbox entry for it;
 *   rooms, memberships and the other entries stay, and no member's sequence
 *   number is handed out again.
 */
import type { StoredMessage } from './stored-message';

export type { RoomEventKind } from './room-event';

/** A room, with its member count. */
export interface RoomRecord {
  id: number;
  /** The name with its `#`, in the spelling it was created with. */
  name: string;
  ownerId: number;
  owner: string;
  private: boolean;
  /** Empty when none was set. */
  topic: string;
  createdAt: number;
  memberCount: number;
}

/** A room as one user sees it in a list. */
export interface RoomListing extends RoomRecord {
  /** True when the user is a member; false for a room they may join. */
  member: boolean;
  /** True when the user holds an unused invitation. */
  invited: boolean;
}

/** One member of a room. */
export interface RoomMember {
  userId: number;
  name: string;
}

/** The outcome of writing one room log entry. */
export interface RoomAppendResult {
  /** The entry as it went to the actor's own inbox (for a kick: the owner's). */
  message: StoredMessage;
  /** One per member it went to, the actor's own included; empty for a duplicate. */
  deliveries: StoredMessage[];
  /** True when (sender, clientId) was stored before: nothing new was written. */
  duplicate: boolean;
}

/** Limits the store checks inside the transaction. */
export interface RoomLimits {
  maxMembers: number;
  maxRooms: number;
}

/** Asks to join (and, when it does not exist, create) a room. */
export interface JoinRequest {
  /** The room name with its `#`. */
  name: string;
  userId: number;
  /** Used when the join creates the room. */
  createPrivate: boolean;
  clientId: string;
  time: number;
  limits: RoomLimits;
}

/** The outcome of a join. */
export interface JoinOutcome {
  room: RoomRecord;
  created: boolean;
  result: RoomAppendResult;
}

/** A room log entry to write. */
export interface RoomPost {
  roomId: number;
  senderId: number;
  clientId: string;
  /** The text; for 'topic' the new topic (may be empty: cleared). */
  body: string;
  time: number;
  /** 'message' or 'topic'; joins and leaves have their own calls. */
  event: 'message' | 'topic';
  /** 'text' when absent. */
  kind?: 'text' | 'action';
}

/** Options for reading a room's history. */
export interface RoomHistoryQuery {
  beforeId?: number;
  limit: number;
}

/** The room part of the Store (store.ts extends it). */
export interface RoomStore {
  /** The room with this name (compared regardless of case). */
  findRoom(name: string): Promise<RoomRecord | undefined>;

  /** Public rooms, and private ones the user is in or invited to, by name regardless of case. */
  listRooms(userId: number): Promise<RoomListing[]>;

  /** The rooms the user is a member of, by name. */
  roomsOf(userId: number): Promise<RoomRecord[]>;

  /** Members of the room, by name regardless of case. */
  roomMembers(roomId: number): Promise<RoomMember[]>;

  /** True when the user is a member; false when invited only or neither. */
  isRoomMember(roomId: number, userId: number): Promise<boolean>;

  /** True when the user holds an invitation to the room. */
  isInvited(roomId: number, userId: number): Promise<boolean>;

  /**
   * Joins the room, creating it (owned by the user) when no room has the
   * name. Rejects with 'failed-precondition' when already a member,
   * 'not-found' for a private room without an invitation, and
   * 'resource-exhausted' over a limit.
   */
  joinRoom(request: JoinRequest): Promise<JoinOutcome>;

  /**
   * Records that `userId` left (or, with `kickedBy`, was removed by that
   * user) and ends the membership. Rejects with 'failed-precondition' when
   * the user is not a member.
   */
  leaveRoom(roomId: number, userId: number, clientId: string, time: number, kickedBy?: number): Promise<RoomAppendResult>;

  /** Writes a message or topic entry (see the contract). */
  postToRoom(post: RoomPost): Promise<RoomAppendResult>;

  /**
   * Invites the user (a member already, or invited: nothing changes);
   * resolves with what the user now is.
   */
  inviteToRoom(roomId: number, userId: number): Promise<'invited' | 'already-invited' | 'member'>;

  /** The room's entries in the user's inbox, newest first, below `beforeId` when given. */
  roomHistory(roomId: number, userId: number, query: RoomHistoryQuery): Promise<StoredMessage[]>;

  /**
   * Deletes the oldest room log entries (messages, joins, leaves, kicks,
   * topics, of every room) stored before `time`, oldest first, each with
   * every member's inbox entry for it, and resolves with how many log
   * entries went. As for Store.deleteMessagesBefore, an entry goes only when
   * it and every entry stored before it are older than `time`, and a stream
   * resuming from before a deleted entry gets the ones after it.
   *
   * `limit` bounds the inbox entries of one call rather than the log
   * entries: one entry of a 1,000-member room is 1,000 rows, and a batch is
   * meant to cost about `limit` rows whatever the rooms' sizes. Whole log
   * entries go while their inbox entries add up to at most `limit`, and at
   * least one goes however many members it reached; so a call may delete
   * fewer than `limit` while older ones remain, and only 0 means none is
   * left.
   */
  deleteRoomMessagesBefore(time: number, limit: number): Promise<number>;
}
