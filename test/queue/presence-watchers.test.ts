import { expect } from 'chai';
import { PresenceWatchers, type PresenceChange } from '../../src/queue/presence-watchers';

function change(user: string, online = true): PresenceChange {
  return { user, online, time: 0 };
}

function routedTo(watchers: PresenceWatchers<string>, changes: PresenceChange[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [watcher, list] of watchers.route(changes)) out[watcher] = list.map((c) => c.user);
  return out;
}

describe('PresenceWatchers', () => {
  it('routes a change only to the streams watching that person, matching names regardless of case', () => {
    const watchers = new PresenceWatchers<string>();
    watchers.set('s1', { everyone: false, keys: new Set(['bob']) });
    watchers.set('s2', { everyone: false, keys: new Set(['bob', 'carol']) });
    watchers.set('s3', { everyone: false, keys: new Set(['dave']) });
    expect(routedTo(watchers, [change('Bob'), change('carol'), change('erin')])).to.deep.equal({
      s1: ['Bob'],
      s2: ['Bob', 'carol'],
    });
  });

  it('gives everyone-watchers the whole batch, in order', () => {
    const watchers = new PresenceWatchers<string>();
    watchers.set('all', { everyone: true });
    watchers.set('one', { everyone: false, keys: new Set(['carol']) });
    expect(routedTo(watchers, [change('bob'), change('carol', false)])).to.deep.equal({ all: ['bob', 'carol'], one: ['carol'] });
    expect(watchers.everyoneCount).to.equal(1);
  });

  it('replaces a watch set, reporting only the people who entered it', () => {
    const watchers = new PresenceWatchers<string>();
    expect(watchers.set('s', { everyone: false, keys: new Set(['bob', 'carol']) })).to.have.members(['bob', 'carol']);
    expect(watchers.set('s', { everyone: false, keys: new Set(['carol', 'dave']) })).to.deep.equal(['dave']);
    expect(routedTo(watchers, [change('bob'), change('carol'), change('dave')])).to.deep.equal({ s: ['carol', 'dave'] });
    expect(watchers.watches('s', 'DAVE')).to.equal(true);
    expect(watchers.watches('s', 'bob')).to.equal(false);
  });

  it('reports every person as entering when a stream narrows from everyone', () => {
    const watchers = new PresenceWatchers<string>();
    watchers.set('s', { everyone: true });
    expect(watchers.set('s', { everyone: false, keys: new Set(['bob']) })).to.deep.equal(['bob']);
    expect(watchers.everyoneCount).to.equal(0);
  });

  it('forgets a removed or emptied stream entirely', () => {
    const watchers = new PresenceWatchers<string>();
    watchers.set('a', { everyone: false, keys: new Set(['bob']) });
    watchers.set('b', { everyone: true });
    watchers.set('c', { everyone: false, keys: new Set(['bob']) });
    watchers.remove('a');
    watchers.remove('b');
    watchers.set('c', { everyone: false, keys: new Set() });
    expect(watchers.size).to.equal(0);
    expect(routedTo(watchers, [change('bob')])).to.deep.equal({});
    expect(watchers.watchSetOf('c')).to.deep.equal({ everyone: false, keys: new Set() });
  });
});
