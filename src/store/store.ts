/**
 * The storage interface every backend implements (SQLite now, PostgreSQL for
 * several server nodes later). It knows nothing of gRPC. Times are
 * milliseconds since the Unix epoch; ids and sequence numbers are plain
 * numbers (they stay far below 2^53).
 *
 * The contract, checked for every backend by test/contract/store-contract.ts:
 *
 * - Users: names are unique regardless of case. A user keeps the spelling it
 *   registered with. Ids are positive and never reused.
 * - Messages: `appendMessages` is atomic for the whole batch: either every
 *   message is stored or none is, and it only resolves once the batch is
 *   durable (it survives a kill -9 of the process right after).
 * - Ordering: each receiver has an inbox numbered 1, 2, 3, … with no gaps and
 *   no repeats; messages of one batch get sequence numbers in batch order.
 *   Message ids are unique, increase within a batch and within each inbox
 *   (a later sequence has a higher id). Across inboxes, a backend shared by
 *   several nodes may commit a lower id after a higher one: ids order
 *   history pages, they are no clock.
 * - Idempotency: (senderId, clientId) identifies a send. Appending a message
 *   whose pair is already stored (earlier, or earlier in the same batch)
 *   stores nothing and returns the stored message with `duplicate: true`.
 * - Delivery positions: `ack` only ever moves a user's acknowledged sequence
 *   forward; a lower value is ignored.
 * - Session ends: deleting sessions (one, or all of a user's) records a
 *   SessionEnd in the same transaction, so every server process that shares
 *   the database — another node, or a server while an operator runs
 *   `tinychat user` — learns of it by reading `sessionEndsAfter` and closes
 *   the streams of those sessions. Ids become visible in increasing order: a
 *   reader that has seen id N never later finds a new end with a lower id
 *   (a backend whose ids can commit out of order must serialize these
 *   writes; they are rare).
 * - Errors: a backend that cannot write (disk or database full, connection
 *   lost) rejects with ChatError('unavailable', …) and has stored nothing of
 *   that batch — except when a connection to a database server drops during
 *   the commit itself, when the batch may have been stored; resending is
 *   safe either way (idempotency). A message naming an unknown sender or
 *   receiver id rejects with ChatError('not-found').
 * - Durability means surviving a crash of the process (kill -9); whether a
 *   power loss can take the last commits depends on the backend's sync
 *   setting (see the backend).
 * - Files: a message may carry a FileRef (the file's description; its bytes
 *   live in a BlobStore, files/blob-store.ts). It is stored and returned
 *   with the message, unchanged; a message without one has no `file`.
 * - Reads with a limit of 0 or less return nothing. `close()` may be called
 *   more than once.
 */

import type { RoomStore } from './room-store';
import type { FileRef, MessageKind, StoredMessage } from './stored-message';

export type { FileRef, MessageKind, StoredMessage } from './stored-message';

/** A registered user. */
export interface UserRecord {
  id: number;
  /** The name as first registered (its original spelling). */
  name: string;
  createdAt: number;
  /** Last login, or the end of the user's last stream. */
  lastSeenAt: number;
  /** Sequence number of the newest message in the user's inbox (0 if none). */
  lastSequence: number;
  /** Highest sequence number the user acknowledged (0 if none). */
  ackedSequence: number;
  /**
   * The password hash (chat/passwords.ts format), or null for a name
   * registered before accounts had passwords.
   */
  passwordHash: string | null;
  /** True when an operator disabled the account: it cannot log in. */
  disabled: boolean;
}

/** A login session. Only a hash of the token is ever stored. */
export interface SessionRecord {
  tokenHash: string;
  userId: number;
  createdAt: number;
  expiresAt: number;
  /** The conversation opened with /START, if any: the other user's id. */
  peerId?: number;
}

/**
 * A login to record (Store.recordLogin): who logs in, and the session it
 * opens at `time`.
 */
export interface NewLogin {
  /** An existing user's id, or a name to register with its password hash (the name's first login). */
  user: { id: number } | { name: string; passwordHash: string };
  tokenHash: string;
  /** The session's createdAt and the user's lastSeenAt (and createdAt, for a new user). */
  time: number;
  expiresAt: number;
}

/** What Store.recordLogin did. */
export interface RecordedLogin {
  /** The user as stored afterwards. */
  user: UserRecord;
  /** True when this login registered the user. */
  created: boolean;
  /** True when the session was created; false only when the name to register was taken. */
  opened: boolean;
}

/** Why sessions ended: decides what their open streams are told. */
export type SessionEndReason = 'logout' | 'password-changed' | 'password-reset' | 'disabled';

/**
 * The record that one session ended (`tokenHash`), or every session of a user
 * except `keptTokenHash` (when `tokenHash` is absent).
 */
export interface SessionEnd {
  /** Increasing in the order ends were recorded; a reader resumes after the last one it saw. */
  id: number;
  userId: number;
  tokenHash?: string;
  keptTokenHash?: string;
  reason: SessionEndReason;
  time: number;
}

/** A message to store. The store assigns id and sequence. */
export interface NewMessage {
  senderId: number;
  receiverId: number;
  /** Chosen by the sending client; unique per sender. */
  clientId: string;
  body: string;
  time: number;
  /** 'text' when absent. */
  kind?: MessageKind;
  /** Set for a file message. */
  file?: FileRef;
}

/** The outcome of appending one message. */
export interface AppendResult {
  message: StoredMessage;
  /** True when the (sender, clientId) pair was already stored: nothing new was written. */
  duplicate: boolean;
}

/** Options for reading a conversation backwards. */
export interface ConversationQuery {
  /** Only messages with an id below this one (for paging back); none means newest. */
  beforeId?: number;
  /** At most this many messages. */
  limit: number;
}

/** Storage for users, sessions, messages, rooms and delivery positions. */
/** How far one user has read: everything up to and including `sequence`. */
export interface AckPosition {
  userId: number;
  sequence: number;
}

export interface Store extends RoomStore {
  /**
   * Returns the user with this name (any case), registering it first (with
   * `passwordHash`, if given) if no such user exists. `created` tells which;
   * an existing user is returned unchanged. Safe to race: two concurrent
   * calls for one new name yield one user. The name is stored as given:
   * callers validate it first (chat/names.ts).
   */
  registerUser(name: string, now: number, passwordHash?: string): Promise<{ user: UserRecord; created: boolean }>;

  /** The user with this name, compared regardless of case. */
  findUserByName(name: string): Promise<UserRecord | undefined>;

  /**
   * The users with these names, compared regardless of case, in one read:
   * each found user once, in no particular order; names of nobody are
   * left out.
   */
  findUsersByName(names: readonly string[]): Promise<UserRecord[]>;

  /** The user with this id. */
  findUserById(id: number): Promise<UserRecord | undefined>;

  /** Every user, sorted by name regardless of case. */
  listUsers(): Promise<UserRecord[]>;

  /** Records that the user was seen at `time`. */
  touchUser(userId: number, time: number): Promise<void>;

  /** Sets (or, with null, removes) the user's password hash. */
  setPassword(userId: number, passwordHash: string | null): Promise<void>;

  /** Disables or re-enables an account. */
  setUserDisabled(userId: number, disabled: boolean): Promise<void>;

  /**
   * Records a login in one transaction: registers the user when `user`
   * names a new name, creates the session and sets the user's lastSeenAt to
   * `time`. Either all of it is stored or none of it. When the name to
   * register is taken (any case, even by a concurrent call) nothing is
   * stored and the user holding it is returned unchanged with `opened:
   * false`: the caller checks the password against it and records the
   * login by id. An unknown id rejects with ChatError('not-found'); a token
   * hash already stored rejects; neither stores anything. The name is
   * stored as given: callers validate it first (chat/names.ts).
   */
  recordLogin(login: NewLogin): Promise<RecordedLogin>;

  /** The session with this token hash, expired or not (the caller checks expiry). */
  findSession(tokenHash: string): Promise<SessionRecord | undefined>;

  /**
   * The session with this token hash and its user, in one read (expired or
   * not, disabled or not: the caller checks).
   */
  findSessionUser(tokenHash: string): Promise<{ session: SessionRecord; user: UserRecord } | undefined>;

  /** Sets or clears (undefined) the session's open conversation. */
  setSessionPeer(tokenHash: string, peerId: number | undefined): Promise<void>;

  /**
   * Deletes the session and records its end (when it existed); resolves true
   * if it existed.
   */
  deleteSession(tokenHash: string, reason: SessionEndReason, time: number): Promise<boolean>;

  /**
   * Deletes every session of the user except `exceptTokenHash` and records
   * the end (always, even when none was stored: a stream may outlive its
   * session row); resolves with how many were deleted.
   */
  deleteUserSessions(userId: number, reason: SessionEndReason, time: number, exceptTokenHash?: string): Promise<number>;

  /** Session ends recorded after the one with id `afterId`, oldest first, at most `limit`. */
  sessionEndsAfter(afterId: number, limit: number): Promise<SessionEnd[]>;

  /** The id of the newest session end (0 if none): where a starting server begins to follow. */
  lastSessionEndId(): Promise<number>;

  /** Forgets session ends recorded before `time` (every server has long acted on them); resolves with how many. */
  pruneSessionEnds(time: number): Promise<number>;

  /** Deletes sessions that expired at or before `now`; resolves with how many. */
  deleteExpiredSessions(now: number): Promise<number>;

  /**
   * Stores a batch of messages in one transaction, assigning ids and inbox
   * sequence numbers. Results are in batch order. See the contract above for
   * atomicity, durability and idempotency.
   */
  appendMessages(batch: NewMessage[]): Promise<AppendResult[]>;

  /**
   * Messages of the user's inbox with sequence > afterSequence, ascending,
   * at most `limit`: one-to-one messages and room entries alike.
   */
  inboxAfter(userId: number, afterSequence: number, limit: number): Promise<StoredMessage[]>;

  /**
   * Messages between two users (both directions), newest first, starting
   * below `beforeId` when given, at most `limit`.
   */
  conversation(userA: number, userB: number, query: ConversationQuery): Promise<StoredMessage[]>;

  /**
   * The newest inbox sequence of each of these users (0 for an empty inbox),
   * in one read: a node checks that its streams missed nothing. Unknown ids
   * are left out.
   */
  lastSequences(userIds: number[]): Promise<Map<number, number>>;

  /** Resolves when the store can be used now; rejects with ChatError('unavailable') saying why not. */
  ping(): Promise<void>;

  /**
   * Messages the user sent or received whose body holds every one of
   * `words` (whole words, regardless of case), newest first, at most
   * `limit`. Words are matched as text, never as a query language.
   */
  search(userId: number, words: string[], limit: number): Promise<StoredMessage[]>;

  /**
   * Deletes up to `limit` of the oldest messages stored before `time`,
   * oldest first, and resolves with how many (retention calls it until that
   * is below `limit`). A message goes only when it and every message stored
   * before it are older than `time`, so a clock that once stepped back never
   * costs a young message (an old one then waits for a later pass). The rest
   * keep their ids and sequences, and inbox positions stay: a stream resuming
   * from before a deleted message gets the ones after it.
   */
  deleteMessagesBefore(time: number, limit: number): Promise<number>;

  /** The message with this id, if it is stored. */
  messageById(id: number): Promise<StoredMessage | undefined>;

  /**
   * File messages between two users (both directions), newest first, at
   * most `limit`.
   */
  conversationFiles(userA: number, userB: number, limit: number): Promise<StoredMessage[]>;

  /**
   * Moves each user's acknowledged sequence forward to the one given (never
   * back), all in one transaction: acknowledgements arrive in bursts from
   * many users, and one commit for all of them is much cheaper than one each.
   * A user listed twice keeps the larger sequence.
   */
  ack(positions: ReadonlyArray<AckPosition>): Promise<void>;

  /** Flushes and closes. No method may be called afterwards. */
  close(): Promise<void>;
}
