import { expect } from 'chai';
import { ChatState } from '../../../src/client/state/chat-state';
import { Completer } from '../../../src/client/state/completion';
import { mentions } from '../../../src/client/state/room-entries';
import { layoutSidebar } from '../../../src/client/tui/sidebar-layout';
import { plain } from '../../../src/client/tui/styled-line';
import { makeTheme } from '../../../src/client/tui/theme';
import { layoutTimeline } from '../../../src/client/tui/timeline-layout';
import { RoomEvent, type Message } from '../../../src/gen/tinychat/v1/chat';
import { stored } from './messages';

const theme = makeTheme(256);

/** A room entry as alice's inbox receives it. */
function entry(id: number, room: string, sender: string, body: string, event = RoomEvent.ROOM_EVENT_UNSPECIFIED): Message {
  return { ...stored(id, sender, 'alice', body, new Date(2024, 4, 14, 9, id)), room, roomEvent: event };
}

describe('rooms in the full-screen client state', () => {
  let state: ChatState;
  let bells: number;

  beforeEach(() => {
    state = new ChatState('alice', 'x');
    bells = 0;
    state.on('bell', () => (bells += 1));
  });

  it('recognises a mention of the reader as @name, not inside a longer name or an address', () => {
    expect(mentions('@alice look', 'alice')).to.equal(true);
    expect(mentions('thanks, @Alice.', 'alice')).to.equal(true);
    expect(mentions('(@alice)', 'alice')).to.equal(true);
    expect(mentions('@alicex', 'alice')).to.equal(false);
    expect(mentions('mail alice@example.org', 'alice')).to.equal(false);
    expect(mentions('@alice.b is someone else', 'alice')).to.equal(false);
    expect(mentions('alice without the at', 'alice')).to.equal(false);
  });

  it('puts room entries in the room’s conversation, counts unread and mentions apart, and rings only for a mention', () => {
    state.open('bob', true);
    state.receive(entry(1, '#dev', 'bob', 'builds are slow'));
    const dev = state.find('#dev')!;
    expect(dev).to.not.equal(undefined);
    expect([dev.unread, dev.mentions, bells]).to.deep.equal([1, 0, 0]);
    state.receive(entry(2, '#dev', 'carol', '@alice can you look?'));
    expect([dev.unread, dev.mentions, bells]).to.deep.equal([2, 1, 1]);
    // A one-to-one message rings as before.
    state.receive(stored(3, 'dave', 'alice', 'hi'));
    expect(bells).to.equal(2);
    state.focus(dev);
    expect([dev.unread, dev.mentions]).to.deep.equal([0, 0]);
    const rows = layoutTimeline(dev, { width: 60, me: 'alice', theme }).map((row) => row.line);
    const mentionRow = rows.find((row) => plain(row).includes('@alice can you look?'))!;
    expect(mentionRow.at(-1)?.style).to.deep.equal(theme.mention);
    const plainRow = rows.find((row) => plain(row).includes('builds are slow'))!;
    expect(plainRow.at(-1)?.style).to.equal(undefined);
  });

  it('shows joins, leaves, kicks and topics as action lines in the room', () => {
    state.receive(entry(1, '#dev', 'bob', '', RoomEvent.ROOM_EVENT_JOINED));
    state.receive(entry(2, '#dev', 'bob', 'ship friday', RoomEvent.ROOM_EVENT_TOPIC));
    state.receive(entry(3, '#dev', 'alice', 'bob', RoomEvent.ROOM_EVENT_KICKED));
    state.receive(entry(4, '#dev', 'carol', '', RoomEvent.ROOM_EVENT_LEFT));
    const rows = layoutTimeline(state.find('#dev')!, { width: 60, me: 'alice', theme }).map((row) => plain(row.line).trim());
    expect(rows.filter((row) => row.includes('* '))).to.deep.equal([
      '09:01          * bob joined #dev',
      '09:02          * bob set the topic: ship friday',
      '09:03 ✓        * alice removed bob from #dev',
      '09:04          * carol left #dev',
    ]);
  });

  it('lists rooms in the sidebar with the unread count and the mentions as @N', () => {
    state.open('bob', true);
    state.receive(entry(1, '#dev', 'bob', 'one'));
    state.receive(entry(2, '#dev', 'carol', 'two @alice'));
    const rows = layoutSidebar(state, 24, 10, theme).map(plain);
    expect(rows[1]).to.match(/^ 1 ○ bob\s+$/);
    expect(rows[2]).to.match(/^ 2 {3}#dev\s+@1 {2}2 $/);
  });

  it('completes room names and room members with Tab, and @ to a mention', () => {
    state.receive(entry(1, '#dev', 'bob', 'hi'));
    state.roomMembers.set('#dev', new Set(['alice', 'bob', 'bernadette']));
    const completer = new Completer();
    expect(completer.complete('/LEAVE #d', state.completionSources())?.before).to.equal('/LEAVE #dev ');
    completer.reset();
    expect(completer.complete('thanks @be', state.completionSources())?.before).to.equal('thanks @bernadette ');
    completer.reset();
    expect(completer.complete('/KICK #dev b', state.completionSources())?.candidates).to.deep.equal(['bernadette', 'bob']);
  });
});
