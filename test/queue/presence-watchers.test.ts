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
  });

  it('replaces a watch set: changes of people who left it no longer reach the stream', () => {
    const watchers = new PresenceWatchers<string>();
    watchers.set('s', { everyone: false, keys: new Set(['bob', 'carol']) });
    watchers.set('s', { everyone: false, keys: new Set(['carol', 'dave']) });
    expect(routedTo(watchers, [change('bob'), change('carol'), change('DAVE')])).to.deep.equal({ s: ['carol', 'DAVE'] });
    expect(watchers.watchSetOf('s')).to.deep.equal({ everyone: false, keys: new Set(['carol', 'dave']) });
  });

  it('narrows a stream from everyone to the people it names', () => {
    const watchers = new PresenceWatchers<string>();
    watchers.set('s', { everyone: true });
    watchers.set('s', { everyone: false, keys: new Set(['bob']) });
    expect(routedTo(watchers, [change('bob'), change('carol')])).to.deep.equal({ s: ['bob'] });
    expect(watchers.size).to.equal(1);
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
