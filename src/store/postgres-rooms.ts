import type { PoolClient } from 'pg';
import { nameKey } from '../chat/names';
import { RetryTransaction } from './postgres-transaction';
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
import type { StoredMessage } from './store';

/** Schema step for rooms, the same layout as SQLite's (sqlite-rooms.ts, which says why room_inbox has no second index). */
export const POSTGRES_ROOMS_SCHEMA = `
CREATE TABLE rooms (
  id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         TEXT    NOT NULL,
  name_key     TEXT    COLLATE "C" NOT NULL UNIQUE,
  owner_id     BIGINT  NOT NULL REFERENCES users (id),
  private      BOOLEAN NOT NULL DEFAULT false,
  topic        TEXT    NOT NULL DEFAULT '',
  created_at   BIGINT  NOT NULL,
  member_count BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE room_members (
  room_id BIGINT NOT NULL REFERENCES rooms (id),
  user_id BIGINT NOT NULL REFERENCES users (id),
  state   TEXT   NOT NULL CHECK (state IN ('member', 'invited')),
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_by_user ON room_members (user_id, state);

CREATE TABLE room_messages (
  id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  room_id   BIGINT NOT NULL REFERENCES rooms (id),
  sender_id BIGINT NOT NULL REFERENCES users (id),
  client_id TEXT   NOT NULL,
  event     TEXT   NOT NULL,
  body      TEXT   NOT NULL,
  kind      TEXT   NOT NULL DEFAULT 'text',
  time      BIGINT NOT NULL,
  sender_sequence BIGINT NOT NULL DEFAULT 0,
  UNIQUE (sender_id, client_id)
);

CREATE TABLE room_inbox (
  user_id         BIGINT NOT NULL REFERENCES users (id),
  sequence        BIGINT NOT NULL,
  room_id         BIGINT NOT NULL,
  room_message_id BIGINT NOT NULL REFERENCES room_messages (id),
  PRIMARY KEY (user_id, sequence)
);
`;

/** Schema step for retention of room entries, as SQLite's (sqlite-rooms.ts says why the index is cheap to keep). */
export const POSTGRES_ROOM_INBOX_BY_ENTRY = `CREATE INDEX room_inbox_by_entry ON room_inbox (room_message_id);`;

const ROOM_COLUMNS = `r.id, r.name, r.owner_id AS "ownerId", o.name AS owner, r.private, r.topic,
  r.created_at AS "createdAt", r.member_count AS "memberCount"`;
const ROOM_FROM = `rooms r JOIN users o ON o.id = r.owner_id`;

/** Selects a room entry in one member's inbox as a StoredMessage (room and roomEvent set). */
export const POSTGRES_ROOM_ENTRY_COLUMNS = `rm.id, rm.sender_id AS "senderId", i.user_id AS "receiverId", s.name AS sender,
  u.name AS receiver, rm.client_id AS "clientId", rm.body, rm.time, i.sequence, rm.kind, ro.name AS room, rm.event AS "roomEvent"`;
/** room_inbox `i` with its entry, room, sender and member. */
export const POSTGRES_ROOM_ENTRY_FROM = `room_inbox i JOIN room_messages rm ON rm.id = i.room_message_id
  JOIN rooms ro ON ro.id = rm.room_id JOIN users s ON s.id = rm.sender_id JOIN users u ON u.id = i.user_id`;

/** The store's query helper (errors already turned into ChatErrors), resolving with the rows. */
export type Query = <R extends object>(action: string, text: string, values: unknown[]) => Promise<R[]>;
/** The store's transaction helper (retries on deadlocks and RetryTransaction). */
export type Transaction = <T>(action: string, work: (client: PoolClient) => Promise<T>) => Promise<T>;

/**
 * The RoomStore half of PostgresStore. Every write first locks the room's
 * row (FOR NO KEY UPDATE, which foreign-key checks do not wait for), so the
 * writes to one room are serialized across nodes and a log entry's id, taken
 * under that lock, increases in the room's order. Members' users rows are
 * then locked in ascending id order, as one-to-one appends lock theirs, so
 * the two cannot deadlock on them.
 */
export class PostgresRooms {
  constructor(
    private readonly query: Query,
    private readonly transaction: Transaction,
  ) {}

  async findRoom(name: string): Promise<RoomRecord | undefined> {
    const rows = await this.query<RoomRecord>('read rooms', `SELECT ${ROOM_COLUMNS} FROM ${ROOM_FROM} WHERE r.name_key = $1`, [nameKey(name)]);
    return rows[0];
  }

  async listRooms(userId: number): Promise<RoomListing[]> {
    const rows = await this.query<RoomRecord & { state: string | null }>(
      'read rooms',
      `SELECT ${ROOM_COLUMNS}, m.state FROM ${ROOM_FROM} LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = $1
       WHERE NOT r.private OR m.state IS NOT NULL ORDER BY r.name_key`,
      [userId],
    );
    return rows.map(({ state, ...room }) => ({ ...room, member: state === 'member', invited: state === 'invited' }));
  }

  async roomsOf(userId: number): Promise<RoomRecord[]> {
    return this.query<RoomRecord>(
      'read rooms',
      `SELECT ${ROOM_COLUMNS} FROM ${ROOM_FROM} JOIN room_members m ON m.room_id = r.id
       WHERE m.user_id = $1 AND m.state = 'member' ORDER BY r.name_key`,
      [userId],
    );
  }

  async roomMembers(roomId: number): Promise<RoomMember[]> {
    return this.query<RoomMember>(
      'read rooms',
      `SELECT u.id AS "userId", u.name FROM room_members m JOIN users u ON u.id = m.user_id
       WHERE m.room_id = $1 AND m.state = 'member' ORDER BY u.name_key`,
      [roomId],
    );
  }

  async isRoomMember(roomId: number, userId: number): Promise<boolean> {
    return (await this.stateOf(roomId, userId)) === 'member';
  }

  async isInvited(roomId: number, userId: number): Promise<boolean> {
    return (await this.stateOf(roomId, userId)) === 'invited';
  }

  private async stateOf(roomId: number, userId: number): Promise<string | undefined> {
    const rows = await this.query<{ state: string }>('read rooms', `SELECT state FROM room_members WHERE room_id = $1 AND user_id = $2`, [roomId, userId]);
    return rows[0]?.state;
  }

  async joinRoom(request: JoinRequest): Promise<JoinOutcome> {
    const key = nameKey(request.name);
    return this.transaction('save rooms', async (client) => {
      // Creating races with another node creating the same name: the loser's
      // insert does nothing, and both then lock the one row.
      const inserted = await client.query(
        `INSERT INTO rooms (name, name_key, owner_id, private, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name_key) DO NOTHING`,
        [request.name, key, request.userId, request.createPrivate, request.time],
      );
      const locked = await client.query<RoomRecord>(`SELECT ${ROOM_COLUMNS} FROM ${ROOM_FROM} WHERE r.name_key = $1 FOR NO KEY UPDATE OF r`, [key]);
      const room = locked.rows[0];
      if (!room) throw new RetryTransaction('the room was created by a transaction not yet visible');
      const state = await stateIn(client, room.id, request.userId);
      if (state === 'member') throw roomErrors.alreadyMember(room.name);
      if (room.private && state !== 'invited' && room.ownerId !== request.userId) throw roomErrors.notFound(request.name);
      if (room.memberCount >= request.limits.maxMembers) throw roomErrors.full(room.name, request.limits.maxMembers);
      const count = await client.query<{ n: number }>(`SELECT count(*)::bigint AS n FROM room_members WHERE user_id = $1 AND state = 'member'`, [
        request.userId,
      ]);
      if (count.rows[0].n >= request.limits.maxRooms) throw roomErrors.tooManyRooms(request.limits.maxRooms);
      await client.query(
        `INSERT INTO room_members (room_id, user_id, state) VALUES ($1, $2, 'member')
         ON CONFLICT (room_id, user_id) DO UPDATE SET state = 'member'`,
        [room.id, request.userId],
      );
      await client.query(`UPDATE rooms SET member_count = member_count + 1 WHERE id = $1`, [room.id]);
      const result = await write(client, room.id, room.name, request.userId, request.clientId, 'joined', '', 'text', request.time);
      return { room: { ...room, memberCount: room.memberCount + 1 }, created: inserted.rowCount === 1, result };
    });
  }

  async leaveRoom(roomId: number, userId: number, clientId: string, time: number, kickedBy?: number): Promise<RoomAppendResult> {
    return this.transaction('save rooms', async (client) => {
      const room = await lockRoom(client, roomId);
      if ((await stateIn(client, roomId, userId)) !== 'member') throw roomErrors.notMember(room.name, kickedBy !== undefined);
      let result: RoomAppendResult;
      if (kickedBy === undefined) {
        result = await write(client, roomId, room.name, userId, clientId, 'left', '', 'text', time);
      } else {
        if ((await stateIn(client, roomId, kickedBy)) !== 'member') throw roomErrors.notAllowed(room.name);
        const name = (await client.query<{ name: string }>(`SELECT name FROM users WHERE id = $1`, [userId])).rows[0].name;
        result = await write(client, roomId, room.name, kickedBy, clientId, 'kicked', name, 'text', time);
      }
      await client.query(`DELETE FROM room_members WHERE room_id = $1 AND user_id = $2`, [roomId, userId]);
      await client.query(`UPDATE rooms SET member_count = member_count - 1 WHERE id = $1`, [roomId]);
      return result;
    });
  }

  async postToRoom(post: RoomPost): Promise<RoomAppendResult> {
    return this.transaction('store messages', async (client) => {
      const original = await findOriginal(client, post.senderId, post.clientId);
      if (original) return { message: original, deliveries: [], duplicate: true };
      const room = await lockRoom(client, post.roomId);
      if ((await stateIn(client, post.roomId, post.senderId)) !== 'member') throw roomErrors.notAllowed(room.name);
      if (post.event === 'topic') await client.query(`UPDATE rooms SET topic = $1 WHERE id = $2`, [post.body, post.roomId]);
      return write(client, post.roomId, room.name, post.senderId, post.clientId, post.event, post.body, post.kind ?? 'text', post.time);
    });
  }

  async inviteToRoom(roomId: number, userId: number): Promise<'invited' | 'already-invited' | 'member'> {
    const rows = await this.query<{ state: string; inserted: boolean }>(
      'save rooms',
      `WITH added AS (
         INSERT INTO room_members (room_id, user_id, state) VALUES ($1, $2, 'invited')
         ON CONFLICT (room_id, user_id) DO NOTHING RETURNING state
       )
       SELECT state, true AS inserted FROM added
       UNION ALL SELECT state, false FROM room_members WHERE room_id = $1 AND user_id = $2`,
      [roomId, userId],
    );
    const inserted = rows.find((row) => row.inserted);
    if (inserted) return 'invited';
    return rows[0]?.state === 'member' ? 'member' : 'already-invited';
  }

  async roomHistory(roomId: number, userId: number, query: RoomHistoryQuery): Promise<StoredMessage[]> {
    if (query.limit <= 0) return [];
    const rows = await this.query<RoomEntryRow>(
      'read messages',
      `SELECT ${POSTGRES_ROOM_ENTRY_COLUMNS} FROM ${POSTGRES_ROOM_ENTRY_FROM}
       WHERE i.user_id = $1 AND i.room_id = $2 AND i.room_message_id < $3
       ORDER BY i.sequence DESC LIMIT $4`,
      [userId, roomId, query.beforeId ?? Number.MAX_SAFE_INTEGER, query.limit],
    );
    return roomDeliveries(rows);
  }

  /**
   * Deletes the oldest log entries before `time` with their inbox entries;
   * see RoomStore.deleteRoomMessagesBefore. One statement: the walk takes
   * entries in id order up to the first young one, counting each one's inbox
   * entries and stopping at the first that does not fit, so a batch of a
   * large room counts no more than it deletes. No sequence needs keeping:
   * users.last_sequence holds every member's newest and nothing lowers it.
   * Two nodes deleting at once take the same entries; the second one's
   * delete waits for the first and finds them gone.
   */
  async deleteEntriesBefore(time: number, limit: number): Promise<number> {
    const deleted = await this.query<{ id: number }>(
      'delete old messages',
      `WITH RECURSIVE young AS (
         SELECT coalesce((SELECT id FROM room_messages WHERE time >= $1 ORDER BY id LIMIT 1), 9223372036854775807) AS id
       ), walk (id, rows, taken) AS (
         SELECT 0::bigint, 0::bigint, 0
         UNION ALL
         SELECT next.id, walk.rows + next.deliveries, walk.taken + 1
         FROM walk CROSS JOIN LATERAL (
           SELECT rm.id, (SELECT count(*) FROM room_inbox WHERE room_message_id = rm.id) AS deliveries
           FROM room_messages rm WHERE rm.id > walk.id AND rm.id < (SELECT id FROM young) ORDER BY rm.id LIMIT 1
         ) next
         WHERE walk.taken < $2 AND (walk.taken = 0 OR walk.rows + next.deliveries <= $2)
       ), taken AS (
         SELECT id FROM walk WHERE taken > 0
       ), inbox AS (
         DELETE FROM room_inbox WHERE room_message_id IN (SELECT id FROM taken)
       )
       DELETE FROM room_messages WHERE id IN (SELECT id FROM taken) RETURNING id`,
      [time, limit],
    );
    return deleted.length;
  }
}

async function stateIn(client: PoolClient, roomId: number, userId: number): Promise<string | undefined> {
  const rows = await client.query<{ state: string }>(`SELECT state FROM room_members WHERE room_id = $1 AND user_id = $2`, [roomId, userId]);
  return rows.rows[0]?.state;
}

async function lockRoom(client: PoolClient, roomId: number): Promise<{ name: string }> {
  const rows = await client.query<{ name: string }>(`SELECT name FROM rooms WHERE id = $1 FOR NO KEY UPDATE`, [roomId]);
  if (rows.rowCount === 0) throw roomErrors.noRoomId(roomId);
  return rows.rows[0];
}

async function findOriginal(client: PoolClient, senderId: number, clientId: string): Promise<StoredMessage | undefined> {
  const rows = await client.query<RoomEntryRow>(
    `SELECT rm.id, rm.sender_id AS "senderId", rm.sender_id AS "receiverId", s.name AS sender, s.name AS receiver,
       rm.client_id AS "clientId", rm.body, rm.time, rm.sender_sequence AS sequence, rm.kind, ro.name AS room, rm.event AS "roomEvent"
     FROM room_messages rm JOIN rooms ro ON ro.id = rm.room_id JOIN users s ON s.id = rm.sender_id
     WHERE rm.sender_id = $1 AND rm.client_id = $2`,
    [senderId, clientId],
  );
  return rows.rowCount === 0 ? undefined : roomDeliveries(rows.rows)[0];
}

// Writes one log entry (under the room's lock) and gives every member an
// inbox entry: their users rows are locked in ascending id order, their
// newest sequence moves on by one, and the entry takes it.
async function write(
  client: PoolClient,
  roomId: number,
  roomName: string,
  senderId: number,
  clientId: string,
  event: RoomEventKind,
  body: string,
  kind: string,
  time: number,
): Promise<RoomAppendResult> {
  const entry = await client.query<{ id: number; sender: string }>(
    `INSERT INTO room_messages (room_id, sender_id, client_id, event, body, kind, time) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (sender_id, client_id) DO NOTHING
     RETURNING id, (SELECT name FROM users WHERE id = $2) AS sender`,
    [roomId, senderId, clientId, event, body, kind, time],
  );
  if (entry.rowCount === 0) throw new RetryTransaction('another node stored this (sender, client id) pair meanwhile');
  const { id, sender } = entry.rows[0];
  const members = await client.query<{ userId: number; name: string; sequence: number }>(
    `WITH locked AS (
       SELECT u.id FROM users u JOIN room_members m ON m.user_id = u.id
       WHERE m.room_id = $1 AND m.state = 'member' ORDER BY u.id FOR NO KEY UPDATE OF u
     ), bumped AS (
       UPDATE users SET last_sequence = last_sequence + 1 FROM locked WHERE users.id = locked.id
       RETURNING users.id, users.name, users.last_sequence
     ), added AS (
       INSERT INTO room_inbox (user_id, sequence, room_id, room_message_id) SELECT id, last_sequence, $1, $2 FROM bumped
     )
     SELECT id AS "userId", name, last_sequence AS sequence FROM bumped ORDER BY id`,
    [roomId, id],
  );
  const deliveries = members.rows.map(
    (member): StoredMessage => ({
      id,
      senderId,
      receiverId: member.userId,
      sender,
      receiver: member.name,
      clientId,
      body,
      time,
      sequence: member.sequence,
      kind: kind === 'action' ? 'action' : 'text',
      room: roomName,
      roomEvent: event,
    }),
  );
  const message = deliveries.find((d) => d.receiverId === senderId)!;
  await client.query(`UPDATE room_messages SET sender_sequence = $1 WHERE id = $2`, [message.sequence, id]);
  return { message, deliveries, duplicate: false };
}
