import type { RoomEventKind } from '../store/room-event';

/**
 * What a room entry says after its time and room, the same in every client
 * and in command answers: `sender: body` for a message, `* sender body` for
 * an action, and `-- …` for a join, leave, kick or topic.
 */
export function roomEntryText(entry: { sender: string; body: string; event: RoomEventKind; action: boolean }): string {
  switch (entry.event) {
    case 'joined':
      return `-- ${entry.sender} joined`;
    case 'left':
      return `-- ${entry.sender} left`;
    case 'kicked':
      return `-- ${entry.body} was removed by ${entry.sender}`;
    case 'topic':
      return entry.body === '' ? `-- ${entry.sender} cleared the topic` : `-- ${entry.sender} set the topic: ${entry.body}`;
    default:
      return entry.action ? `* ${entry.sender} ${entry.body}` : `${entry.sender}: ${entry.body}`;
  }
}
