import type Database from 'better-sqlite3';
import { nameKey } from '../chat/names';
import type {
  JoinOutcome,
  JoinRequest,
  RoomAppendResult,
  RoomEventKind,
  RoomHistoryQuery,
  RoomListing,
  RoomMember,
  RoomPost,
  RoomRecord,
} from './room-store';
import { roomDeliveries, roomErrors, type RoomEntryRow } from './room-rows';
import type { SqliteSequences } from './sqlite-sequences';
import type { StoredMessage } from './store';

/**
 * Schema step for rooms (self-contained: it only adds tables). room_inbox
 * holds one row per member per log entry: the member's inbox sequence
 * (numbered with the one-to-one messages, see sqlite-sequences.ts) and the
 * entry it points at. room_members holds members and unused invitations.
 *
 * room_inbox has no index by member and room: each member's row of one
 * message lands on another page, so such an index costs about a page
 * written per member per message (a room's history reads the member's
 * inbox backwards instead). Its one other index, by entry, came with
 * retention (SQLITE_ROOM_INBOX_BY_ENTRY).
 */
export const SQLITE_ROOMS_SCHEMA = `
CREATE TABLE rooms (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  name         TEXT    NOT NULL,
  name_key     TEXT    NOT NULL UNIQUE,
  owner_id     INTEGER NOT NULL REFERENCES users (id),
  private      INTEGER NOT NULL DEFAULT 0,
  topic        TEXT    NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  member_count INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE room_members (
  room_id INTEGER NOT NULL REFERENCES rooms (id),
  user_id INTEGER NOT NULL REFERENCES users (id),
  state   TEXT    NOT NULL CHECK (state IN ('member', 'invited')),
  PRIMARY KEY (room_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX room_members_by_user ON room_members (user_id, state);

CREATE TABLE room_messages (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  room_id   INTEGER NOT NULL REFERENCES rooms (id),
  sender_id INTEGER NOT NULL REFERENCES users (id),
  client_id TEXT    NOT NULL,
  event     TEXT    NOT NULL,
  body      TEXT    NOT NULL,
  kind      TEXT    NOT NULL DEFAULT 'text',
  time      INTEGER NOT NULL,
  -- The entry's sequence in its sender's own inbox (the receipt's), so a
  -- retry finds it without reading the inbox.
  sender_sequence INTEGER NOT NULL DEFAULT 0,
  UNIQUE (sender_id, client_id)
) STRICT;

CREATE TABLE room_inbox (
  user_id         INTEGER NOT NULL REFERENCES users (id),
  sequence        INTEGER NOT NULL,
  room_id         INTEGER NOT NULL,
  room_message_id INTEGER NOT NULL REFERENCES room_messages (id),
  PRIMARY KEY (user_id, sequence)
) STRICT, WITHOUT ROWID;
`;

/**
 * Schema step for retention of room entries: every inbox entry of a log
 * entry, found by the entry. Without it deleting a log entry reads all of
 * room_inbox, twice (once for the inbox entries, once for the foreign key
 * check). All rows of one entry share its key, and keys only grow, so a
 * post adds them at the index's right edge: about a page per post, not one
 * per member.
 */
export const SQLITE_ROOM_INBOX_BY_ENTRY = `CREATE INDEX room_inbox_by_entry ON room_inbox (room_message_id);`;

const ROOM_COLUMNS = `r.id, r.name, r.owner_id AS ownerId, o.name AS owner, r.private, r.topic,
  r.created_at AS createdAt, r.member_count AS memberCount`;
const ROOM_FROM = `rooms r JOIN users o ON o.id = r.owner_id`;

type RoomRow = Omit<RoomRecord, 'private'> & { private: number };

function toRoom(row: RoomRow): RoomRecord;
function toRoom(row: RoomRow | undefined): RoomRecord | undefined;
function toRoom(row: RoomRow | undefined): RoomRecord | undefined {
  return row && { ...row, private: row.private !== 0 };
}

/** Selects a room entry in one member's inbox as a StoredMessage (room and roomEvent set). */
export const SQLITE_ROOM_ENTRY_COLUMNS = `rm.id, rm.sender_id AS senderId, i.user_id AS receiverId, s.name AS sender,
  u.name AS receiver, rm.client_id AS clientId, rm.body, rm.time, i.sequence, rm.kind, ro.name AS room, rm.event AS roomEvent`;
/** room_inbox `i` with its entry, room, sender and member. */
export const SQLITE_ROOM_ENTRY_FROM = `room_inbox i JOIN room_messages rm ON rm.id = i.room_message_id
  JOIN rooms ro ON ro.id = rm.room_id JOIN users s ON s.id = rm.sender_id JOIN users u ON u.id = i.user_id`;

/**
 * The RoomStore half of SqliteStore, on the same connection. Each write is
 * one transaction; better-sqlite3 runs it synchronously, so writes to a room
 * are serialized by construction.
 */
export class SqliteRooms {
  private readonly stmt: ReturnType<typeof prepare>;
  // The transactions that take no inbox numbers, made once as SqliteStore makes its own.
  private readonly invite: (roomId: number, userId: number) => 'invited' | 'already-invited' | 'member';
  private readonly deleteEntries: (time: number, limit: number) => number;

  constructor(
    db: Database.Database,
    /** The store's one allocator: room entries and one-to-one messages share each member's inbox numbers. */
    private readonly sequences: SqliteSequences,
  ) {
    this.stmt = prepare(db);
    this.invite = db.transaction((roomId: number, userId: number) => {
      const state = this.stmt.state.get(roomId, userId)?.state;
      if (state === 'member') return 'member';
      if (state === 'invited') return 'already-invited';
      this.stmt.invite.run(roomId, userId);
      return 'invited';
    });
    this.deleteEntries = db.transaction((time: number, limit: number) => {
      let last = 0;
      let taken = 0;
      let rows = 0;
      // Counted one entry at a time, stopping at the first that does not
      // fit, so a batch of a large room counts no more than it deletes.
      for (const entry of this.stmt.oldEntries.iterate({ time, limit })) {
        if (taken > 0 && rows + entry.deliveries > limit) break;
        last = entry.id;
        rows += entry.deliveries;
        taken++;
      }
      if (taken === 0) return 0;
      // The taken ones are every entry up to `last`: older ones went before.
      this.stmt.deleteInboxUpTo.run(last);
      this.stmt.deleteEntriesUpTo.run(last);
      return taken;
    });
  }

  findRoom(name: string): RoomRecord | undefined {
    return toRoom(this.stmt.roomByKey.get(nameKey(name)));
  }

  listRooms(userId: number): RoomListing[] {
    return this.stmt.listRooms.all(userId).map(({ state, ...row }) => ({
      ...toRoom(row),
      member: state === 'member',
      invited: state === 'invited',
    }));
  }

  roomsOf(userId: number): RoomRecord[] {
    return this.stmt.roomsOf.all(userId).map((row) => toRoom(row));
  }

  roomMembers(roomId: number): RoomMember[] {
    return this.stmt.members.all(roomId);
  }

  isRoomMember(roomId: number, userId: number): boolean {
    return this.stmt.state.get(roomId, userId)?.state === 'member';
  }

  isInvited(roomId: number, userId: number): boolean {
    return this.stmt.state.get(roomId, userId)?.state === 'invited';
  }

  joinRoom(request: JoinRequest): JoinOutcome {
    return this.sequences.transaction((): JoinOutcome => {
      const key = nameKey(request.name);
      let room = toRoom(this.stmt.roomByKey.get(key));
      let created = false;
      if (!room) {
        this.stmt.insertRoom.run(request.name, key, request.userId, request.createPrivate ? 1 : 0, request.time);
        room = toRoom(this.stmt.roomByKey.get(key))!;
        created = true;
      }
      const state = this.stmt.state.get(room.id, request.userId)?.state;
      if (state === 'member') throw roomErrors.alreadyMember(room.name);
      if (room.private && state !== 'invited' && room.ownerId !== request.userId) throw roomErrors.notFound(request.name);
      if (room.memberCount >= request.limits.maxMembers) throw roomErrors.full(room.name, request.limits.maxMembers);
      if (this.stmt.countRooms.get(request.userId)!.n >= request.limits.maxRooms) throw roomErrors.tooManyRooms(request.limits.maxRooms);
      this.stmt.upsertMember.run(room.id, request.userId);
      this.stmt.bumpMembers.run(1, room.id);
      const result = this.write(room.id, request.userId, request.clientId, 'joined', '', 'text', request.time);
      return { room: { ...room, memberCount: room.memberCount + 1 }, created, result };
    });
  }

  leaveRoom(roomId: number, userId: number, clientId: string, time: number, kickedBy?: number): RoomAppendResult {
    return this.sequences.transaction((): RoomAppendResult => {
      const room = this.stmt.roomById.get(roomId);
      if (!room) throw roomErrors.noRoomId(roomId);
      if (this.stmt.state.get(roomId, userId)?.state !== 'member') throw roomErrors.notMember(room.name, kickedBy !== undefined);
      let result: RoomAppendResult;
      if (kickedBy === undefined) {
        result = this.write(roomId, userId, clientId, 'left', '', 'text', time);
      } else {
        if (this.stmt.state.get(roomId, kickedBy)?.state !== 'member') throw roomErrors.notAllowed(room.name);
        const name = this.stmt.userName.get(userId)!.name;
        result = this.write(roomId, kickedBy, clientId, 'kicked', name, 'text', time);
      }
      this.stmt.deleteMember.run(roomId, userId);
      this.stmt.bumpMembers.run(-1, roomId);
      return result;
    });
  }

  postToRoom(post: RoomPost): RoomAppendResult {
    return this.sequences.transaction((): RoomAppendResult => {
      const original = this.stmt.original.get(post.senderId, post.clientId);
      if (original) return { message: roomDeliveries([original])[0], deliveries: [], duplicate: true };
      const room = this.stmt.roomById.get(post.roomId);
      if (!room) throw roomErrors.noRoomId(post.roomId);
      if (this.stmt.state.get(post.roomId, post.senderId)?.state !== 'member') throw roomErrors.notAllowed(room.name);
      if (post.event === 'topic') this.stmt.setTopic.run(post.body, post.roomId);
      return this.write(post.roomId, post.senderId, post.clientId, post.event, post.body, post.kind ?? 'text', post.time);
    });
  }

  inviteToRoom(roomId: number, userId: number): 'invited' | 'already-invited' | 'member' {
    return this.invite(roomId, userId);
  }

  roomHistory(roomId: number, userId: number, query: RoomHistoryQuery): StoredMessage[] {
    if (query.limit <= 0) return [];
    return roomDeliveries(this.stmt.history.all({ user: userId, room: roomId, before: query.beforeId ?? Number.MAX_SAFE_INTEGER, limit: query.limit }));
  }

  /**
   * Deletes the oldest log entries before `time` with their inbox entries,
   * whole entries while their inbox entries add up to at most `limit` (at
   * least one); see RoomStore.deleteRoomMessagesBefore. No sequence needs
   * keeping: the fan-out numbered these from users.last_sequence and left
   * its number there, and nothing lowers the column (sqlite-sequences.ts).
   */
  deleteEntriesBefore(time: number, limit: number): number {
    return this.deleteEntries(time, limit);
  }

  // Writes one log entry and gives every current member an inbox entry for
  // it, in ascending user id order; the members' newest sequences move with it.
  private write(roomId: number, senderId: number, clientId: string, event: RoomEventKind, body: string, kind: string, time: number): RoomAppendResult {
    const entryId = Number(this.stmt.insertEntry.run(roomId, senderId, clientId, event, body, kind, time).lastInsertRowid);
    this.sequences.settleForRooms();
    const members = this.stmt.bumpSequences.all(roomId);
    for (const member of members) this.sequences.took(member.userId, member.name, member.sequence);
    this.stmt.fanOut.run(roomId, entryId, roomId);
    const names = this.stmt.entryNames.get(roomId, senderId)!;
    const deliveries = members
      .sort((a, b) => a.userId - b.userId)
      .map((member): StoredMessage => ({
        id: entryId,
        senderId,
        receiverId: member.userId,
        sender: names.sender,
        receiver: member.name,
        clientId,
        body,
        time,
        sequence: member.sequence,
        kind: kind === 'action' ? 'action' : 'text',
        room: names.room,
        roomEvent: event,
      }));
    const message = deliveries.find((d) => d.receiverId === senderId)!;
    this.stmt.setSenderSequence.run(message.sequence, entryId);
    return { message, deliveries, duplicate: false };
  }
}

function prepare(db: Database.Database) {
  return {
    roomByKey: db.prepare<[string], RoomRow>(`SELECT ${ROOM_COLUMNS} FROM ${ROOM_FROM} WHERE r.name_key = ?`),
    roomById: db.prepare<[number], { name: string }>(`SELECT name FROM rooms WHERE id = ?`),
    userName: db.prepare<[number], { name: string }>(`SELECT name FROM users WHERE id = ?`),
    listRooms: db.prepare<[number], RoomRow & { state: string | null }>(
      `SELECT ${ROOM_COLUMNS}, m.state FROM ${ROOM_FROM} LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = ?
       WHERE r.private = 0 OR m.state IS NOT NULL ORDER BY r.name_key`,
    ),
    roomsOf: db.prepare<[number], RoomRow>(
      `SELECT ${ROOM_COLUMNS} FROM ${ROOM_FROM} JOIN room_members m ON m.room_id = r.id
       WHERE m.user_id = ? AND m.state = 'member' ORDER BY r.name_key`,
    ),
    members: db.prepare<[number], RoomMember>(
      `SELECT u.id AS userId, u.name FROM room_members m JOIN users u ON u.id = m.user_id
       WHERE m.room_id = ? AND m.state = 'member' ORDER BY u.name_key`,
    ),
    state: db.prepare<[number, number], { state: string }>(`SELECT state FROM room_members WHERE room_id = ? AND user_id = ?`),
    countRooms: db.prepare<[number], { n: number }>(`SELECT count(*) AS n FROM room_members WHERE user_id = ? AND state = 'member'`),
    insertRoom: db.prepare<[string, string, number, number, number]>(
      `INSERT INTO rooms (name, name_key, owner_id, private, created_at) VALUES (?, ?, ?, ?, ?)`,
    ),
    upsertMember: db.prepare<[number, number]>(
      `INSERT INTO room_members (room_id, user_id, state) VALUES (?, ?, 'member')
       ON CONFLICT (room_id, user_id) DO UPDATE SET state = 'member'`,
    ),
    invite: db.prepare<[number, number]>(`INSERT INTO room_members (room_id, user_id, state) VALUES (?, ?, 'invited')`),
    deleteMember: db.prepare<[number, number]>(`DELETE FROM room_members WHERE room_id = ? AND user_id = ?`),
    bumpMembers: db.prepare<[number, number]>(`UPDATE rooms SET member_count = member_count + ? WHERE id = ?`),
    setTopic: db.prepare<[string, number]>(`UPDATE rooms SET topic = ? WHERE id = ?`),
    original: db.prepare<[number, string], RoomEntryRow>(
      `SELECT rm.id, rm.sender_id AS senderId, rm.sender_id AS receiverId, s.name AS sender, s.name AS receiver,
         rm.client_id AS clientId, rm.body, rm.time, rm.sender_sequence AS sequence, rm.kind, ro.name AS room, rm.event AS roomEvent
       FROM room_messages rm JOIN rooms ro ON ro.id = rm.room_id JOIN users s ON s.id = rm.sender_id
       WHERE rm.sender_id = ? AND rm.client_id = ?`,
    ),
    setSenderSequence: db.prepare<[number, number]>(`UPDATE room_messages SET sender_sequence = ? WHERE id = ?`),
    insertEntry: db.prepare<[number, number, string, string, string, string, number]>(
      `INSERT INTO room_messages (room_id, sender_id, client_id, event, body, kind, time) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    bumpSequences: db.prepare<[number], { userId: number; name: string; sequence: number }>(
      `UPDATE users SET last_sequence = last_sequence + 1
       WHERE id IN (SELECT user_id FROM room_members WHERE room_id = ? AND state = 'member')
       RETURNING id AS userId, name, last_sequence AS sequence`,
    ),
    entryNames: db.prepare<[number, number], { room: string; sender: string }>(
      `SELECT (SELECT name FROM rooms WHERE id = ?) AS room, (SELECT name FROM users WHERE id = ?) AS sender`,
    ),
    fanOut: db.prepare<[number, number, number]>(
      `INSERT INTO room_inbox (user_id, sequence, room_id, room_message_id)
       SELECT u.id, u.last_sequence, ?, ? FROM room_members m JOIN users u ON u.id = m.user_id
       WHERE m.room_id = ? AND m.state = 'member' ORDER BY u.id`,
    ),
    // The oldest entries before @time (as OLD_MESSAGES in sqlite-store.ts:
    // up to the first one young enough to keep), each with how many inbox
    // entries it has; counted lazily, as the caller iterates.
    oldEntries: db.prepare<{ time: number; limit: number }, { id: number; deliveries: number }>(
      `SELECT rm.id, (SELECT count(*) FROM room_inbox WHERE room_message_id = rm.id) AS deliveries FROM room_messages rm
       WHERE rm.id < coalesce((SELECT id FROM room_messages WHERE time >= @time ORDER BY id LIMIT 1), 9223372036854775807)
       ORDER BY rm.id LIMIT @limit`,
    ),
    deleteInboxUpTo: db.prepare<[number]>(`DELETE FROM room_inbox WHERE room_message_id <= ?`),
    deleteEntriesUpTo: db.prepare<[number]>(`DELETE FROM room_messages WHERE id <= ?`),
    history: db.prepare<{ user: number; room: number; before: number; limit: number }, RoomEntryRow>(
      `SELECT ${SQLITE_ROOM_ENTRY_COLUMNS} FROM ${SQLITE_ROOM_ENTRY_FROM}
       WHERE i.user_id = @user AND i.room_id = @room AND i.room_message_id < @before
       ORDER BY i.sequence DESC LIMIT @limit`,
    ),
  };
}
