// Column lists that turn PostgreSQL rows into the Store's records as they are:
// aliases are quoted because PostgreSQL folds unquoted names to lower case.

/** Selects a users row as a UserRecord (BIGINTs arrive as numbers, `disabled` as a boolean). */
export const USER_COLUMNS = `id, name, created_at AS "createdAt", last_seen_at AS "lastSeenAt",
  last_sequence AS "lastSequence", acked_sequence AS "ackedSequence",
  password_hash AS "passwordHash", disabled`;

/** Selects a StoredMessage from MESSAGE_FROM. */
export const MESSAGE_COLUMNS = `m.id, m.sender_id AS "senderId", m.receiver_id AS "receiverId",
  s.name AS sender, r.name AS receiver, m.client_id AS "clientId", m.body, m.time, m.sequence, m.kind, m.file`;

/** Messages with both users' names. */
export const MESSAGE_FROM = `messages m JOIN users s ON s.id = m.sender_id JOIN users r ON r.id = m.receiver_id`;

/** Selects a session_ends row; token hashes are null when absent. */
export const SESSION_END_COLUMNS = `id, user_id AS "userId", token_hash AS "tokenHash",
  kept_token_hash AS "keptTokenHash", reason, time`;

/** Selects a sessions row; peer_id is null when no conversation is open. */
export const SESSION_COLUMNS = `token_hash AS "tokenHash", user_id AS "userId", created_at AS "createdAt",
  expires_at AS "expiresAt", peer_id AS "peerId"`;
