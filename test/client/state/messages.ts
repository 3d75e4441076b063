import type { Message } from '../../../src/gen/tinychat/v1/chat';

/** A stored message as the server delivers it; ids double as sequence numbers unless given. */
export function stored(id: number, sender: string, receiver: string, body: string, time = new Date(2024, 4, 14, 9, id % 60)): Message {
  return { id, sequence: id, sender, receiver, body, time, kind: 0, room: '', roomEvent: 0 };
}
