import { MessageKind, RoomEvent, type Message } from '../../gen/tinychat/v1/chat';

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * True when `body` mentions `me` as `@me` (any case), not as part of a longer
 * name: "@bob," and "@bob." mention bob, "@bobby" and "x@bob" do not.
 */
export function mentions(body: string, me: string): boolean {
  if (me === '') return false;
  return new RegExp(`(^|[^A-Za-z0-9_.@-])@${escaped(me)}(?![A-Za-z0-9_-]|\\.[A-Za-z0-9_-])`, 'i').test(body);
}

/**
 * How a room entry reads in a conversation: a message as it is, a join,
 * leave, kick or topic as an action line ("* bob joined").
 */
export function roomEntryShown(message: Message): { body: string; action: boolean } {
  switch (message.roomEvent) {
    case RoomEvent.ROOM_EVENT_JOINED:
      return { body: `joined ${message.room}`, action: true };
    case RoomEvent.ROOM_EVENT_LEFT:
      return { body: `left ${message.room}`, action: true };
    case RoomEvent.ROOM_EVENT_KICKED:
      return { body: `removed ${message.body} from ${message.room}`, action: true };
    case RoomEvent.ROOM_EVENT_TOPIC:
      return { body: message.body ? `set the topic: ${message.body}` : 'cleared the topic', action: true };
    default:
      return { body: message.body, action: message.kind === MessageKind.MESSAGE_KIND_ACTION };
  }
}
