import { ChatError } from './errors';
import type { Caller } from './accounts';
import { quoted } from './names';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './messaging';
import { messageLine } from './text';
import type { MemberStatus, Rooms } from './rooms';
import type { RoomListing, RoomRecord } from '../store/room-store';
import type { StoredMessage } from '../store/store';

/** A room as a command answer describes it. */
export interface RoomView {
  name: string;
  owner: string;
  private: boolean;
  topic: string;
  memberCount: number;
  member: boolean;
  invited: boolean;
}

/** The typed answers of the room commands; `text` is what a person reads. */
export type RoomCommandResult = { text: string } & (
  | { kind: 'room-joined'; room: RoomView; created: boolean }
  | { kind: 'rooms'; rooms: RoomView[] }
  | { kind: 'room-members'; room: string; members: MemberStatus[] }
  | { kind: 'room-history'; room: string; messages: StoredMessage[]; hasMore: boolean; nextBeforeId: number }
  | { kind: 'room-changed'; room: string; event: 'left' | 'kicked' | 'topic' | 'invited'; user: string; topic: string }
);

/** One room command: the command table (commands.ts) takes these as they are. */
export interface RoomCommandSpec {
  name: string;
  usage: string;
  summary: string;
  minArgs: number;
  maxArgs: number;
  run(rooms: Rooms, args: string[], caller: Caller): Promise<RoomCommandResult>;
}

function view(room: RoomRecord | RoomListing, member = true, invited = false): RoomView {
  return {
    name: room.name,
    owner: room.owner,
    private: room.private,
    topic: room.topic,
    memberCount: room.memberCount,
    member: 'member' in room ? room.member : member,
    invited: 'invited' in room ? room.invited : invited,
  };
}

function members(n: number): string {
  return n === 1 ? '1 member' : `${n} members`;
}

/** The room commands, in the order /COMMANDS lists them. */
export const ROOM_COMMANDS: RoomCommandSpec[] = [
  {
    name: '/JOIN',
    usage: '<#room> [private]',
    summary: 'join a room, creating it (you own it) if it does not exist; "private": only invited people can join',
    minArgs: 1,
    maxArgs: 2,
    async run(rooms, [name, flag], caller) {
      if (flag !== undefined && flag.toLowerCase() !== 'private') {
        throw new ChatError('invalid-argument', `/JOIN takes a room and optionally "private", not ${quoted(flag)} — e.g. /JOIN #ops private`);
      }
      const { room, created } = await rooms.join(caller, name, flag !== undefined);
      const made = created ? ` — you created it${room.private ? ' as a private room: /INVITE people to it' : ''} and own it` : '';
      const topic = room.topic ? `; topic: ${room.topic}` : '';
      return {
        kind: 'room-joined',
        text: `joined ${room.name} (${members(room.memberCount)})${made}${topic} — type a message to send it there`,
        room: view(room),
        created,
      };
    },
  },
  {
    name: '/LEAVE',
    usage: '<#room>',
    summary: 'leave a room (the full-screen and line clients fill in the room shown)',
    minArgs: 1,
    maxArgs: 1,
    async run(rooms, [name], caller) {
      const room = await rooms.leave(caller, name);
      return { kind: 'room-changed', text: `left ${room.name}`, room: room.name, event: 'left', user: caller.user.name, topic: '' };
    },
  },
  {
    name: '/ROOMS',
    usage: '',
    summary: 'list the rooms you are in or can join, with their member counts',
    minArgs: 0,
    maxArgs: 0,
    async run(rooms, _args, caller) {
      const listed = (await rooms.list(caller)).map((room) => view(room));
      if (listed.length === 0) return { kind: 'rooms', text: 'no rooms yet — /JOIN #name creates one', rooms: listed };
      const width = Math.max(4, ...listed.map((r) => r.name.length));
      const rows = listed.map((r) => {
        const status = r.member ? 'member ' : r.invited ? 'invited' : '       ';
        const topic = r.topic ? `  ${r.topic}` : '';
        return `${r.name.padEnd(width)}  ${String(r.memberCount).padStart(7)}  ${status}  ${r.private ? 'private' : 'public '}${topic}`;
      });
      return { kind: 'rooms', text: [`${'ROOM'.padEnd(width)}  MEMBERS  YOU      ACCESS   TOPIC`, ...rows].join('\n'), rooms: listed };
    },
  },
  {
    name: '/MEMBERS',
    usage: '<#room>',
    summary: 'list who is in a room, and who is online (clients fill in the room shown)',
    minArgs: 1,
    maxArgs: 1,
    async run(rooms, [name], caller) {
      const { room, members: list } = await rooms.members(caller, name);
      const lines = list.map((m) => `${m.online ? '●' : '○'} ${m.name}${m.owner ? ' (owner)' : ''}`);
      const online = list.filter((m) => m.online).length;
      return {
        kind: 'room-members',
        text: [`${room.name}: ${members(list.length)}, ${online} online`, ...lines].join('\n'),
        room: room.name,
        members: list,
      };
    },
  },
  {
    name: '/TOPIC',
    usage: '<#room> [text…]',
    summary: "set a room's topic (without text: clear it); members see the change in the room",
    minArgs: 1,
    maxArgs: 256,
    async run(rooms, [name, ...words], caller) {
      const room = await rooms.setTopic(caller, name, words.join(' '));
      const text = room.topic ? `topic of ${room.name}: ${room.topic}` : `topic of ${room.name} cleared`;
      return { kind: 'room-changed', text, room: room.name, event: 'topic', user: caller.user.name, topic: room.topic };
    },
  },
  {
    name: '/INVITE',
    usage: '<#room> <name>',
    summary: 'invite someone to a room (a private room can only be joined so)',
    minArgs: 2,
    maxArgs: 2,
    async run(rooms, [name, user], caller) {
      const { room, user: invited, outcome } = await rooms.invite(caller, name, user);
      const text =
        outcome === 'member'
          ? `${invited} is already in ${room.name}`
          : `${invited} is invited to ${room.name} — they can /JOIN ${room.name} now`;
      return { kind: 'room-changed', text, room: room.name, event: 'invited', user: invited, topic: '' };
    },
  },
  {
    name: '/KICK',
    usage: '<#room> <name>',
    summary: 'remove someone from a room you own',
    minArgs: 2,
    maxArgs: 2,
    async run(rooms, [name, user], caller) {
      const { room, user: kicked } = await rooms.kick(caller, name, user);
      return { kind: 'room-changed', text: `${kicked} was removed from ${room.name}`, room: room.name, event: 'kicked', user: kicked, topic: '' };
    },
  },
];

/** /HISTORY for a room: one page of what the caller received from it. */
export async function roomHistory(rooms: Rooms, caller: Caller, name: string, count = DEFAULT_PAGE_SIZE, beforeId?: number): Promise<RoomCommandResult> {
  if (count > MAX_PAGE_SIZE) throw new ChatError('invalid-argument', `count must be at most ${MAX_PAGE_SIZE}, not ${count}`);
  const page = await rooms.page(caller, name, count, beforeId);
  const lines = page.messages.map(messageLine);
  if (lines.length === 0) lines.push(`nothing ${beforeId === undefined ? '' : 'older '}in ${page.room.name} since you joined`);
  if (page.hasMore) lines.push(`(older: /HISTORY ${page.room.name} ${count} ${page.nextBeforeId})`);
  return {
    kind: 'room-history',
    text: lines.join('\n'),
    room: page.room.name,
    messages: page.messages,
    hasMore: page.hasMore,
    nextBeforeId: page.nextBeforeId,
  };
}
