import { expect } from 'chai';
import { ChatState } from '../../../src/client/state/chat-state';
import { stored } from './messages';

function titles(state: ChatState): string[] {
  return state.conversations.map((c) => `${c.peer}${c === state.current ? '*' : ''}${c.unread ? `(${c.unread})` : ''}`);
}

describe('ChatState', () => {
  let state: ChatState;
  let bells: number;
  let changes: number;

  beforeEach(() => {
    state = new ChatState('alice', '127.0.0.1:50051');
    bells = 0;
    changes = 0;
    state.on('bell', () => (bells += 1));
    state.on('change', () => (changes += 1));
  });

  it('opens conversations in tab order and switches between them by position and in a cycle', () => {
    state.open('bob', true);
    state.open('carol', true);
    state.open('dave', false);
    expect(titles(state)).to.deep.equal(['bob', 'carol*', 'dave']);
    expect(state.focusIndex(0)).to.equal(true);
    expect(titles(state)).to.deep.equal(['bob*', 'carol', 'dave']);
    expect(state.focusIndex(5)).to.equal(false);
    state.cycle(-1);
    expect(state.current?.peer).to.equal('dave');
    state.cycle(1);
    expect(state.current?.peer).to.equal('bob');
    expect(changes).to.be.greaterThan(0);
  });

  it('goes to the open conversation instead of opening a second one, whatever the case', () => {
    const bob = state.open('bob', false);
    expect(state.open('BOB', true)).to.equal(bob);
    expect(state.conversations).to.have.length(1);
    expect(bob.peer).to.equal('BOB');
  });

  it('shows the right neighbour after closing the current conversation, else the left one', () => {
    state.open('bob', false);
    state.open('carol', true);
    state.open('dave', false);
    state.close();
    expect(titles(state)).to.deep.equal(['bob', 'dave*']);
    state.close();
    expect(titles(state)).to.deep.equal(['bob*']);
    state.close();
    expect(state.current).to.equal(undefined);
    expect(state.close()).to.equal(undefined);
  });

  it('opens a conversation in the background for a message from someone new, counts it unread and rings', () => {
    state.open('bob', true);
    const received = state.receive(stored(1, 'carol', 'alice', 'psst'));
    expect(received.opened).to.equal(true);
    expect(received.isNew).to.equal(true);
    expect(titles(state)).to.deep.equal(['bob*', 'carol(1)']);
    expect(bells).to.equal(1);
  });

  it('counts unread messages only where the reader is not looking, and clears them when shown', () => {
    state.open('bob', true);
    state.open('carol', false);
    state.receive(stored(1, 'carol', 'alice', 'one'));
    state.receive(stored(2, 'carol', 'alice', 'two'));
    state.receive(stored(3, 'bob', 'alice', 'seen at once'));
    expect(titles(state)).to.deep.equal(['bob*', 'carol(2)']);
    expect(bells).to.equal(2);
    state.focusIndex(1);
    expect(titles(state)).to.deep.equal(['bob', 'carol*']);
  });

  it('counts as unread the messages of a burst that arrive in the page loaded for the conversation, not the older ones nor own', () => {
    state.open('bob', true);
    const carol = state.receive(stored(10, 'carol', 'alice', 'first of a burst')).conversation;
    // The page loaded when carol's message opened the conversation: older history, the message, and what came after it.
    const page = [stored(4, 'carol', 'alice', 'last week'), stored(5, 'alice', 'carol', 'my answer'), stored(10, 'carol', 'alice', 'first of a burst')];
    for (let id = 11; id <= 30; id += 1) page.push(stored(id, id === 20 ? 'alice' : 'carol', id === 20 ? 'carol' : 'alice', `burst ${id}`));
    state.takePage(carol, page, true);
    expect(carol.unread).to.equal(20);
    // Those then arriving live are not counted again; newer ones are.
    for (let id = 11; id <= 31; id += 1) state.receive(stored(id, id === 20 ? 'alice' : 'carol', id === 20 ? 'carol' : 'alice', `burst ${id}`));
    expect(carol.unread).to.equal(21);
    // A page for the conversation shown counts nothing.
    state.takePage(state.find('bob')!, [stored(40, 'bob', 'alice', 'hi')], false);
    expect(state.find('bob')!.unread).to.equal(0);
  });

  it('puts the "new messages" line at the first unread message while the conversation is shown, and no longer after', () => {
    state.open('bob', true);
    state.receive(stored(1, 'carol', 'alice', 'read before'));
    state.focusIndex(1);
    expect(state.find('carol')!.markerId).to.equal(1);
    state.focusIndex(0);
    expect(state.find('carol')!.markerId).to.equal(undefined);
    state.receive(stored(2, 'carol', 'alice', 'new one'));
    state.receive(stored(3, 'carol', 'alice', 'another'));
    state.focusIndex(1);
    expect(state.find('carol')!.markerId).to.equal(2);
    state.receive(stored(4, 'carol', 'alice', 'while looking'));
    expect(state.find('carol')!.markerId).to.equal(2);
  });

  it('does not count a message twice, nor own copies from another terminal, as unread', () => {
    state.open('bob', true);
    state.receive(stored(1, 'carol', 'alice', 'one'));
    expect(state.receive(stored(1, 'carol', 'alice', 'one')).isNew).to.equal(false);
    state.receive(stored(2, 'alice', 'carol', 'sent from my phone'));
    expect(titles(state)).to.deep.equal(['bob*', 'carol(1)']);
    expect(bells).to.equal(1);
    const copy = state.find('carol')!.entries()[1];
    expect(copy.kind === 'message' && copy.own).to.equal(true);
  });

  it('follows a send from pending to sent, even when its conversation is not shown', () => {
    state.open('bob', true);
    state.sending('bob', 'c1', 'hello', new Date());
    state.open('carol', true);
    expect(state.pendingCount).to.equal(1);
    state.sent({ clientId: 'c1', duplicate: false, message: stored(4, 'alice', 'bob', 'hello') });
    expect(state.pendingCount).to.equal(0);
    const [entry] = state.find('bob')!.entries();
    expect(entry.kind === 'message' && entry.delivery).to.equal('sent');
  });

  it('shows nothing twice after a reconnect: messages delivered again, overlapping pages and a retried send', () => {
    const bob = state.open('bob', true);
    state.receive(stored(1, 'bob', 'alice', 'one'));
    state.sending('bob', 'c1', 'two', new Date());
    // The connection is lost here; it resumes and replays what it cannot know was handled.
    state.receive(stored(1, 'bob', 'alice', 'one'));
    bob.merge([stored(1, 'bob', 'alice', 'one'), stored(3, 'bob', 'alice', 'three')], (m) => state.isOwn(m));
    state.sent({ clientId: 'c1', duplicate: true, message: stored(2, 'alice', 'bob', 'two') });
    state.sent({ clientId: 'c1', duplicate: true, message: stored(2, 'alice', 'bob', 'two') });
    state.receive(stored(3, 'bob', 'alice', 'three'));
    expect(bob.entries().map((e) => e.kind === 'message' && `${e.id}:${e.body}:${e.delivery}`)).to.deep.equal([
      '1:one:sent',
      '2:two:sent',
      '3:three:sent',
    ]);
    expect(bob.unread).to.equal(0);
  });

  it('marks a refused send failed in its conversation', () => {
    state.open('bob', true);
    state.sending('bob', 'c1', 'hello', new Date());
    state.failed({ clientId: 'c1', receiver: 'bob', body: 'hello', code: 5, reason: 'no user "bob"' });
    const [entry] = state.find('bob')!.entries();
    expect(entry.kind === 'message' && entry.failure).to.equal('no user "bob"');
  });

  it('keeps the people list live from presence and says so in the conversation with that person', () => {
    state.setPeople([
      { name: 'alice', online: true },
      { name: 'bob', online: false },
    ]);
    const bob = state.open('bob', true);
    state.presence({ user: 'bob', online: true, lastSeen: new Date() });
    state.presence({ user: 'bob', online: true, lastSeen: new Date() });
    state.presence({ user: 'carol', online: true, lastSeen: new Date() });
    expect(state.roster.list().map((p) => `${p.name}:${p.online}`)).to.deep.equal(['alice:true', 'bob:true', 'carol:true']);
    expect(bob.entries().map((e) => (e.kind === 'notice' ? e.text : ''))).to.deep.equal(['bob is online']);
    state.presence({ user: 'bob', online: false, lastSeen: new Date() });
    expect(state.roster.list().map((p) => p.name)).to.deep.equal(['alice', 'carol', 'bob']);
  });

  it('watches the people of open conversations and of the People rows the sidebar has room for, never rooms or the reader', () => {
    const state = new ChatState('alice', 'x');
    state.setPeople([
      { name: 'alice', online: true },
      { name: 'bob', online: false },
      { name: 'carol', online: true },
      { name: 'dave', online: false },
      { name: 'erin', online: false },
    ]);
    state.open('zed', true);
    state.open('#general', true);
    expect(state.watchedNames(), 'without a sidebar: the conversations only').to.deep.equal(['zed']);
    // 9 rows: the title, two conversations, a blank and "People" leave 4: three people and "+2 more".
    state.setSidebarRows(9);
    expect(state.watchedNames()).to.deep.equal(['zed', 'carol', 'bob']);
    state.setSidebarRows(30);
    expect(state.watchedNames()).to.have.members(['zed', 'carol', 'bob', 'dave', 'erin']);
  });

  it('shows notices in the conversation shown, or on the home page when none is', () => {
    state.notify('first');
    const bob = state.open('bob', true);
    state.notify('second', 'error');
    expect(state.home.entries().map((e) => e.kind === 'notice' && e.text)).to.deep.equal(['first']);
    expect(bob.entries().map((e) => e.kind === 'notice' && `${e.tone}:${e.text}`)).to.deep.equal(['error:second']);
  });

  it('offers commands without /LOGIN and every known name for completion', () => {
    state.setCommands([
      { name: '/LOGIN', usage: '<name>', summary: '' },
      { name: '/START', usage: '<name>', summary: '' },
    ]);
    state.setPeople([{ name: 'bob', online: true }]);
    state.open('Carol', false);
    const sources = state.completionSources();
    expect(sources.commands).to.deep.equal(['/START', '/LOGOUT', '/ME', '/SEND', '/SAVE']);
    expect(sources.names).to.deep.equal(['bob', 'Carol']);
    expect(sources.paths).to.be.a('function');
  });
});
