import type { PoolClient } from 'pg';
import { ChatError } from '../chat/errors';
import { MESSAGE_COLUMNS, MESSAGE_FROM } from './postgres-rows';
import { RetryTransaction } from './postgres-transaction';
import { fileColumn, messageFromRow, type MessageRow } from './file-column';
import type { AppendResult, NewMessage, StoredMessage } from './store';

/** A message naming a user id that does not exist. */
export function unknownUser(id: number): ChatError {
  return new ChatError('not-found', `there is no user with id ${id}; check the name with /USERS and try again`);
}

function pairKey(senderId: number, clientId: string): string {
  return `${senderId}\u0000${clientId}`;
}

// Statements are named so each pooled connection parses and plans them once.
const ORIGINALS = {
  name: 'tinychat-append-originals',
  text: `SELECT ${MESSAGE_COLUMNS} FROM ${MESSAGE_FROM}
         WHERE (m.sender_id, m.client_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))`,
};

const SENDERS = {
  name: 'tinychat-append-senders',
  text: `SELECT id, name FROM users WHERE id = ANY($1::bigint[])`,
};

// FOR NO KEY UPDATE, not FOR UPDATE: it still serializes appenders to one
// inbox, but does not block the KEY SHARE locks that foreign-key checks of
// other inserts take on the same users rows (which could deadlock). The
// ORDER BY makes every transaction lock receivers in ascending id order, so
// two batches with common receivers cannot deadlock on them.
const LOCK_RECEIVERS = {
  name: 'tinychat-append-lock-receivers',
  text: `SELECT id, name, last_sequence AS "lastSequence" FROM users
         WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE`,
};

// One statement inserts the whole batch and moves each receiver's
// last_sequence. ORDER BY ordinality makes ids follow batch order. A
// (sender, client id) pair that another transaction stored since this one
// looked is skipped by ON CONFLICT (which waits for that transaction to end);
// the caller then rolls everything back, so no sequence number is used up.
const INSERT_AND_BUMP = {
  name: 'tinychat-append-insert',
  text: `WITH inserted AS (
           INSERT INTO messages (sender_id, receiver_id, client_id, body, time, sequence, kind, file)
           SELECT s, r, c, b, t, q, k, f::jsonb
           FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $9::text[], $10::text[])
             WITH ORDINALITY AS v(s, r, c, b, t, q, k, f, n)
           ORDER BY n
           ON CONFLICT (sender_id, client_id) DO NOTHING
           RETURNING id, receiver_id, sequence
         ), bumped AS (
           UPDATE users SET last_sequence = v.last
           FROM unnest($7::bigint[], $8::bigint[]) AS v(id, last)
           WHERE users.id = v.id
         )
         SELECT id, receiver_id AS "receiverId", sequence FROM inserted`,
};

interface Planned {
  /** Set for a message already stored before this batch. */
  original?: StoredMessage;
  /** For a repeat within this batch: the index of the first message with its pair. */
  sameAs?: number;
}

/**
 * Appends `batch` inside the caller's open transaction on `client`, in a
 * constant number of statements whatever the batch size: look up pairs
 * already stored, check the senders, lock the receivers (ascending id),
 * insert everything and advance the receivers' last_sequence. Results are in
 * batch order. Rejects with ChatError('not-found') for an unknown sender or
 * receiver, and with RetryTransaction when a concurrent transaction stored
 * one of the pairs first (the retry then finds it as a duplicate).
 */
export async function appendInTransaction(client: PoolClient, batch: readonly NewMessage[]): Promise<AppendResult[]> {
  const originals = new Map<string, StoredMessage>();
  const found = await client.query<MessageRow>({
    ...ORIGINALS,
    values: [batch.map((m) => m.senderId), batch.map((m) => m.clientId)],
  });
  for (const row of found.rows) originals.set(pairKey(row.senderId, row.clientId), messageFromRow(row));

  const plan: Planned[] = [];
  const firstIndex = new Map<string, number>();
  const fresh: number[] = [];
  batch.forEach((m, i) => {
    const key = pairKey(m.senderId, m.clientId);
    const original = originals.get(key);
    const earlier = firstIndex.get(key);
    if (original) plan.push({ original });
    else if (earlier !== undefined) plan.push({ sameAs: earlier });
    else {
      firstIndex.set(key, i);
      fresh.push(i);
      plan.push({});
    }
  });

  const stored = new Map<number, StoredMessage>();
  if (fresh.length > 0) await insertFresh(client, batch, fresh, stored);

  return plan.map((p, i) => {
    if (p.original) return { message: p.original, duplicate: true };
    if (p.sameAs !== undefined) return { message: { ...stored.get(p.sameAs)! }, duplicate: true };
    return { message: stored.get(i)!, duplicate: false };
  });
}

// Stores the messages at `fresh` (indexes into batch, ascending), filling
// `stored` with what each became.
async function insertFresh(client: PoolClient, batch: readonly NewMessage[], fresh: number[], stored: Map<number, StoredMessage>): Promise<void> {
  const messages = fresh.map((i) => batch[i]);
  const senderIds = [...new Set(messages.map((m) => m.senderId))];
  const receiverIds = [...new Set(messages.map((m) => m.receiverId))];

  const senders = new Map<number, string>();
  for (const row of (await client.query<{ id: number; name: string }>({ ...SENDERS, values: [senderIds] })).rows) {
    senders.set(row.id, row.name);
  }
  const missingSender = messages.find((m) => !senders.has(m.senderId));
  if (missingSender) throw unknownUser(missingSender.senderId);

  const receivers = new Map<number, { name: string; lastSequence: number }>();
  const locked = await client.query<{ id: number; name: string; lastSequence: number }>({ ...LOCK_RECEIVERS, values: [receiverIds] });
  for (const row of locked.rows) receivers.set(row.id, row);
  const missingReceiver = messages.find((m) => !receivers.has(m.receiverId));
  if (missingReceiver) throw unknownUser(missingReceiver.receiverId);

  // Sequence numbers in batch order, continuing each inbox under its row lock.
  const sequences = messages.map((m) => ++receivers.get(m.receiverId)!.lastSequence);
  const inserted = await client.query<{ id: number; receiverId: number; sequence: number }>({
    ...INSERT_AND_BUMP,
    values: [
      messages.map((m) => m.senderId),
      messages.map((m) => m.receiverId),
      messages.map((m) => m.clientId),
      messages.map((m) => m.body),
      messages.map((m) => m.time),
      sequences,
      [...receivers.keys()],
      [...receivers.values()].map((r) => r.lastSequence),
      messages.map((m) => m.kind ?? 'text'),
      messages.map((m) => fileColumn(m.file)),
    ],
  });
  if (inserted.rowCount !== messages.length) {
    throw new RetryTransaction('another server stored one of these (sender, client id) pairs meanwhile');
  }

  const ids = new Map(inserted.rows.map((row) => [`${row.receiverId}:${row.sequence}`, row.id]));
  messages.forEach((m, k) => {
    const sequence = sequences[k];
    stored.set(fresh[k], {
      id: ids.get(`${m.receiverId}:${sequence}`)!,
      senderId: m.senderId,
      receiverId: m.receiverId,
      sender: senders.get(m.senderId)!,
      receiver: receivers.get(m.receiverId)!.name,
      clientId: m.clientId,
      body: m.body,
      time: m.time,
      sequence,
      kind: m.kind ?? 'text',
      ...(m.file && { file: m.file }),
    });
  });
}
