import { ChatError } from '../chat/errors';
import { grpcStatusOf } from './status';
import { invalidUtf8Fields } from './strict-utf8';
import type { CommandInput, CommandResult } from '../chat/commands';
import {
  MessageKind,
  RoomEvent,
  type ClientFrame,
  type CommandRequest,
  type CommandResponse,
  type FileInfo,
  type Message,
  type RoomInfo,
  type ServerFrame,
} from '../gen/tinychat/v1/chat';
import type { InboundFrame, OutboundBatch } from '../session/frames';
import type { RoomView } from '../chat/room-commands';
import type { RoomEventKind } from '../store/room-store';
import type { FileRef, MessageKind as StoreMessageKind, StoredMessage } from '../store/store';

/**
 * Translation between the wire types generated from chat.proto and the
 * domain's own types. Nothing else in the server touches generated types.
 */

/** A stored message as the wire Message. */
export function toWireMessage(message: StoredMessage): Message {
  return {
    sender: message.sender,
    receiver: message.receiver,
    body: message.body,
    time: new Date(message.time),
    id: message.id,
    sequence: message.sequence,
    kind: message.kind === 'action' ? MessageKind.MESSAGE_KIND_ACTION : MessageKind.MESSAGE_KIND_UNSPECIFIED,
    room: message.room ?? '',
    roomEvent: WIRE_ROOM_EVENTS[message.roomEvent ?? 'message'],
    file: message.file && toWireFile(message.file),
  };
}

const WIRE_ROOM_EVENTS: Record<RoomEventKind | 'invited', RoomEvent> = {
  message: RoomEvent.ROOM_EVENT_UNSPECIFIED,
  joined: RoomEvent.ROOM_EVENT_JOINED,
  left: RoomEvent.ROOM_EVENT_LEFT,
  kicked: RoomEvent.ROOM_EVENT_KICKED,
  topic: RoomEvent.ROOM_EVENT_TOPIC,
  invited: RoomEvent.ROOM_EVENT_INVITED,
};

function toWireRoom(room: RoomView): RoomInfo {
  return { ...room };
}

/** A FileRef as the wire FileInfo. */
export function toWireFile(file: FileRef): FileInfo {
  return { name: file.name, size: file.size, sha256: file.sha256, mediaType: file.mediaType };
}

/** One outbound batch as one ServerFrame. */
export function toServerFrame(batch: OutboundBatch): ServerFrame {
  return {
    messages: batch.messages.map(toWireMessage),
    receipts: batch.receipts.map(({ message, duplicate }) => ({
      clientId: message.clientId,
      id: message.id,
      sequence: message.sequence,
      time: new Date(message.time),
      receiver: message.receiver,
      duplicate,
    })),
    presence: batch.presence.map((change) => ({ user: change.user, online: change.online, lastSeen: new Date(change.time) })),
    errors: batch.errors.map(({ error, clientId }) => ({
      code: grpcStatusOf(error.code),
      message: error.message,
      clientId,
      retryAfterMs: error.retryAfterMs ?? 0,
    })),
    ready: batch.greeting,
  };
}

/** Refuses a request with strings that were not valid UTF-8, naming them. */
function invalidUtf8Error(fields: string[]): ChatError {
  const names = fields.join(', ');
  return new ChatError(
    'invalid-argument',
    `${fields.length === 1 ? 'the field' : 'the fields'} ${names} ${fields.length === 1 ? 'is' : 'are'} not valid UTF-8 — send text encoded as UTF-8`,
  );
}

/** The wire's message kinds as the store's. */
const MESSAGE_KINDS = new Map<number, StoreMessageKind>([
  [MessageKind.MESSAGE_KIND_UNSPECIFIED, 'text'],
  [MessageKind.MESSAGE_KIND_ACTION, 'action'],
]);

/** A ClientFrame as the session's InboundFrame. */
export function toInboundFrame(frame: ClientFrame): InboundFrame {
  const invalid = invalidUtf8Fields(frame);
  if (invalid.length > 0) {
    const send = frame.kind?.$case === 'send' ? frame.kind.send : undefined;
    // The client id is echoed only when it is itself valid: a lossy copy could name another send.
    const clientId = send && !invalid.includes('send.client_id') ? send.clientId : '';
    return { kind: 'invalid', error: invalidUtf8Error(invalid), clientId };
  }
  const kind = frame.kind;
  switch (kind?.$case) {
    case 'send': {
      const messageKind = MESSAGE_KINDS.get(kind.send.kind);
      if (messageKind === undefined) {
        // A kind from a newer client is refused rather than stored as something it is not.
        const error = new ChatError(
          'invalid-argument',
          `the message kind ${kind.send.kind} is not one this server knows — send MESSAGE_KIND_UNSPECIFIED (text) or MESSAGE_KIND_ACTION`,
        );
        return { kind: 'invalid', error, clientId: kind.send.clientId };
      }
      return {
        kind: 'send',
        clientId: kind.send.clientId,
        receiver: kind.send.receiver,
        body: kind.send.body,
        messageKind,
        ...(kind.send.file && {
          file: { name: kind.send.file.name, size: kind.send.file.size, sha256: kind.send.file.sha256, mediaType: kind.send.file.mediaType },
        }),
      };
    }
    case 'ack':
      return { kind: 'ack', sequence: kind.ack.sequence };
    case 'resume':
      return {
        kind: 'resume',
        afterSequence: kind.resume.afterSequence || undefined,
        watchPresence: kind.resume.watchPresence,
        watchUsers: kind.resume.watchUsers,
      };
    case 'watch':
      return { kind: 'watch', users: kind.watch.users, everyone: kind.watch.everyone };
    default:
      return { kind: 'empty' };
  }
}

/** A CommandRequest as the domain's command input. */
export function toCommandInput(request: CommandRequest): CommandInput {
  const invalid = invalidUtf8Fields(request);
  if (invalid.length > 0) throw invalidUtf8Error(invalid);
  const input = request.input;
  switch (input?.$case) {
    case 'line':
      return { line: input.line, loginOnly: request.loginOnly || undefined };
    case 'invocation':
      return { name: input.invocation.name, args: input.invocation.args, loginOnly: request.loginOnly || undefined };
    default:
      throw new ChatError('invalid-argument', 'the request is empty: set "line", e.g. {"line": "/COMMANDS"}');
  }
}

/** A command's result as the wire CommandResponse. */
export function toCommandResponse(result: CommandResult): CommandResponse {
  const text = result.text;
  switch (result.kind) {
    case 'login':
      return {
        text,
        result: {
          $case: 'login',
          login: { user: result.user, token: result.token, registered: result.registered, expires: new Date(result.expiresAt) },
        },
      };
    case 'users':
      return {
        text,
        result: {
          $case: 'users',
          users: { users: result.users.map((u) => ({ name: u.name, online: u.online, lastSeen: new Date(u.lastSeenAt) })) },
        },
      };
    case 'time':
      return { text, result: { $case: 'time', time: { time: new Date(result.time) } } };
    case 'conversation':
      return {
        text,
        result: {
          $case: 'conversation',
          conversation: { peer: result.peer, recent: result.recent.map(toWireMessage), hasMore: result.hasMore },
        },
      };
    case 'stopped':
      return { text, result: { $case: 'stopped', stopped: { peer: result.peer } } };
    case 'password-changed':
      return { text, result: { $case: 'passwordChanged', passwordChanged: { sessionsEnded: result.sessionsEnded } } };
    case 'logged-out':
      return { text, result: { $case: 'loggedOut', loggedOut: { user: result.user } } };
    case 'commands':
      return { text, result: { $case: 'commands', commands: { commands: result.commands } } };
    case 'search':
      return {
        text,
        result: { $case: 'search', search: { words: result.words, messages: result.messages.map(toWireMessage), hasMore: result.hasMore } },
      };
    case 'room-joined':
      return { text, result: { $case: 'roomJoined', roomJoined: { room: toWireRoom(result.room), created: result.created } } };
    case 'rooms':
      return { text, result: { $case: 'rooms', rooms: { rooms: result.rooms.map(toWireRoom) } } };
    case 'room-members':
      return { text, result: { $case: 'roomMembers', roomMembers: { room: result.room, members: result.members } } };
    case 'room-history':
      return {
        text,
        result: {
          $case: 'roomHistory',
          roomHistory: { room: result.room, messages: result.messages.map(toWireMessage), hasMore: result.hasMore, nextBeforeId: result.nextBeforeId },
        },
      };
    case 'room-changed':
      return {
        text,
        result: { $case: 'roomChanged', roomChanged: { room: result.room, event: WIRE_ROOM_EVENTS[result.event], user: result.user, topic: result.topic } },
      };
    case 'files':
      return {
        text,
        result: { $case: 'files', files: { peer: result.peer, messages: result.messages.map(toWireMessage), hasMore: result.hasMore } },
      };
    case 'history':
      return {
        text,
        result: {
          $case: 'history',
          history: {
            peer: result.peer,
            messages: result.messages.map(toWireMessage),
            hasMore: result.hasMore,
            nextBeforeId: result.nextBeforeId,
          },
        },
      };
  }
}
