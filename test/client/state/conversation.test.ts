import { expect } from 'chai';
import { Conversation, type ChatMessage, type TimelineEntry } from '../../../src/client/state/conversation';
import { stored } from './messages';

function describeEntries(entries: TimelineEntry[]): string[] {
  return entries.map((entry) => (entry.kind === 'notice' ? `notice:${entry.text}` : `${entry.delivery}:${entry.id ?? '-'}:${entry.body}`));
}

const own = (message: { sender: string }) => message.sender === 'alice';

describe('Conversation', () => {
  it('shows each message once however often it arrives, in id order', () => {
    const conversation = new Conversation('bob');
    expect(conversation.add(stored(5, 'bob', 'alice', 'five'), false)).to.equal(true);
    expect(conversation.add(stored(3, 'bob', 'alice', 'three'), false)).to.equal(true);
    expect(conversation.add(stored(5, 'bob', 'alice', 'five'), false)).to.equal(false);
    expect(conversation.merge([stored(3, 'bob', 'alice', 'three'), stored(4, 'alice', 'bob', 'four')], own)).to.equal(1);
    expect(describeEntries(conversation.entries())).to.deep.equal(['sent:3:three', 'sent:4:four', 'sent:5:five']);
    expect(conversation.oldestId).to.equal(3);
  });

  it('shows an own send as pending until its receipt, then as sent in the place the server gave it', () => {
    const conversation = new Conversation('bob');
    conversation.add(stored(1, 'bob', 'alice', 'hi'), false);
    conversation.addPending({ clientId: 'c1', sender: 'alice', receiver: 'bob', body: 'hello' }, new Date());
    conversation.add(stored(2, 'bob', 'alice', 'are you there?'), false);
    expect(describeEntries(conversation.entries())).to.deep.equal(['sent:1:hi', 'pending:-:hello', 'sent:2:are you there?']);
    expect(conversation.pending().map((p) => p.body)).to.deep.equal(['hello']);

    const time = new Date(2024, 4, 14, 10, 0);
    const confirmed = conversation.confirm({
      clientId: 'c1',
      duplicate: false,
      message: { ...stored(3, 'alice', 'Bob', 'hello'), time },
    });
    expect(confirmed).to.equal(true);
    expect(describeEntries(conversation.entries())).to.deep.equal(['sent:1:hi', 'sent:2:are you there?', 'sent:3:hello']);
    const mine = conversation.entries()[2] as ChatMessage;
    expect(mine.key).to.equal('c:c1');
    expect(mine.time).to.equal(time);
    expect(mine.receiver).to.equal('Bob');
    expect(conversation.pending()).to.deep.equal([]);
  });

  it('does not double an own message whose stored copy was shown before the receipt came', () => {
    const conversation = new Conversation('bob');
    conversation.addPending({ clientId: 'c1', sender: 'alice', receiver: 'bob', body: 'hello' }, new Date());
    conversation.merge([stored(7, 'alice', 'bob', 'hello')], own);
    conversation.confirm({ clientId: 'c1', duplicate: false, message: stored(7, 'alice', 'bob', 'hello') });
    expect(describeEntries(conversation.entries())).to.deep.equal(['sent:7:hello']);
  });

  it('ignores a repeated receipt and a receipt for a send it does not hold', () => {
    const conversation = new Conversation('bob');
    conversation.addPending({ clientId: 'c1', sender: 'alice', receiver: 'bob', body: 'hello' }, new Date());
    const receipt = { clientId: 'c1', duplicate: false, message: stored(7, 'alice', 'bob', 'hello') };
    expect(conversation.confirm(receipt)).to.equal(true);
    expect(conversation.confirm(receipt)).to.equal(false);
    expect(conversation.confirm({ ...receipt, clientId: 'other' })).to.equal(false);
    expect(describeEntries(conversation.entries())).to.deep.equal(['sent:7:hello']);
  });

  it('keeps a refused send in place, marked failed with the reason', () => {
    const conversation = new Conversation('bob');
    conversation.addPending({ clientId: 'c1', sender: 'alice', receiver: 'bob', body: 'x'.repeat(5) }, new Date());
    expect(conversation.fail('c1', 'the message is too long')).to.equal(true);
    const [entry] = conversation.entries() as ChatMessage[];
    expect(entry.delivery).to.equal('failed');
    expect(entry.failure).to.equal('the message is too long');
    expect(conversation.fail('c1', 'again')).to.equal(false);
  });

  it('puts notices after what was shown when they were added, and older pages above them', () => {
    const conversation = new Conversation('bob');
    conversation.add(stored(10, 'bob', 'alice', 'ten'), false);
    conversation.note('bob went offline', 'info', new Date());
    conversation.add(stored(11, 'bob', 'alice', 'eleven'), false);
    conversation.merge([stored(8, 'bob', 'alice', 'eight'), stored(9, 'alice', 'bob', 'nine')], own, false);
    expect(describeEntries(conversation.entries())).to.deep.equal([
      'sent:8:eight',
      'sent:9:nine',
      'sent:10:ten',
      'notice:bob went offline',
      'sent:11:eleven',
    ]);
    expect(conversation.hasMore).to.equal(false);
  });

  it('knows its peer case-insensitively and starts with nothing known about older messages', () => {
    const conversation = new Conversation('Bob');
    expect(conversation.key).to.equal('bob');
    expect(conversation.hasMore).to.equal(undefined);
    expect(conversation.oldestId).to.equal(undefined);
    expect(conversation.unread).to.equal(0);
  });
});
