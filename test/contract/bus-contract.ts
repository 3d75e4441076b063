import { expect } from 'chai';
import { MAX_EVENT_BYTES, type Bus, type BusEvent, type BusOptions, type BusState, type BusSubscription } from '../../src/bus/bus';
import { topicPart } from '../../src/bus/topic';
import { eventually, sleep } from '../support/eventually';

/** Buses ("nodes") on one bus server for one test, and how to get rid of them. */
export interface BusFixture {
  /**
   * Opens one more node's bus on the same bus server as the fixture's other
   * buses, in the fixture's own namespace unless `options.namespace` says
   * otherwise. The fixture's namespace is unique to the test run.
   */
  open(options: BusOptions): Promise<Bus>;
  /** Closes every bus the fixture opened (closed or not). */
  cleanup(): Promise<void>;
}

/** Generous for a loaded 2-core machine; conditions are polled, so a fast run stays fast. */
const WAIT_MS = 10_000;

/** Events received by one handler, in order. */
interface Inbox {
  events: BusEvent[];
  handler: (event: BusEvent) => void;
}

function inbox(): Inbox {
  const events: BusEvent[] = [];
  return { events, handler: (event) => events.push(event) };
}

/** What the box got, without the markers `settle` publishes. */
function withoutMarkers(box: Inbox): BusEvent[] {
  return box.events.filter((event) => !event.marker);
}

async function received(box: Inbox, count: number, what: string): Promise<void> {
  await eventually(`${what}: ${count} event(s), got ${box.events.length}`, () => box.events.length >= count, WAIT_MS);
}

/**
 * Defines the mocha suite every Bus implementation must pass: the contract
 * written in src/bus/bus.ts. `makeFixture` is called once per test.
 */
export function busContract(name: string, makeFixture: () => Promise<BusFixture>): void {
  describe(`Bus contract: ${name}`, function () {
    let fixture: BusFixture;
    /** Errors the buses reported through onError; a test that expects some takes them out. */
    let reported: Array<{ error: unknown; topic?: string }>;

    beforeEach(async function () {
      reported = [];
      fixture = await makeFixture();
    });

    afterEach(async function () {
      await fixture.cleanup();
      expect(reported.map((r) => String(r.error))).to.deep.equal([], 'errors reported by the buses');
    });

    function node(options: BusOptions = {}): Promise<Bus> {
      return fixture.open({ onError: (error, topic) => reported.push({ error, topic }), ...options });
    }

    /**
     * Waits until `marker` published by `from` reached a probe subscription
     * on `at`: everything `from` published to `topic` before it has then been
     * handled at `at` (order holds per publisher and topic).
     */
    async function settle(from: Bus, at: Bus, topic: string): Promise<void> {
      const probe = inbox();
      const sub = at.subscribe(topic, probe.handler);
      await at.flush();
      from.publish(topic, { marker: true });
      await received(probe, 1, `the marker on ${topic}`);
      sub.unsubscribe();
    }

    it('starts connected, with a description for logs', async function () {
      const bus = await node();
      expect(bus.state).to.equal('connected');
      expect(bus.description).to.be.a('string').and.not.equal('');
    });

    describe('delivery', function () {
      it('delivers an event to every subscriber of its topic, on the publishing node and on others', async function () {
        const [a, b, c] = [await node(), await node(), await node()];
        const boxes = [inbox(), inbox(), inbox(), inbox()];
        a.subscribe('room.1', boxes[0].handler);
        b.subscribe('room.1', boxes[1].handler);
        b.subscribe('room.1', boxes[2].handler);
        c.subscribe('room.1', boxes[3].handler);
        await Promise.all([a.flush(), b.flush(), c.flush()]);

        a.publish('room.1', { user: 42, sequence: 17 });
        for (const [i, box] of boxes.entries()) await received(box, 1, `subscriber ${i}`);
        await settle(a, a, 'room.1');
        await settle(a, b, 'room.1');
        await settle(a, c, 'room.1');
        for (const box of boxes) expect(box.events[0]).to.deep.equal({ user: 42, sequence: 17 });
        for (const box of boxes) expect(withoutMarkers(box)).to.have.length(1, 'delivered once');
      });

      it('never gives a subscriber an event of another topic, even one that shares a prefix', async function () {
        const [a, b] = [await node(), await node()];
        const topics = ['user.1', 'user.10', 'user.1.stored', 'user'];
        const boxes = topics.map(() => inbox());
        topics.forEach((topic, i) => b.subscribe(topic, boxes[i].handler));
        await b.flush();

        for (const topic of topics) a.publish(topic, { topic });
        for (const [i, box] of boxes.entries()) await received(box, 1, topics[i]);
        for (const topic of topics) await settle(a, b, topic);
        boxes.forEach((box, i) => expect(withoutMarkers(box)).to.deep.equal([{ topic: topics[i] }], topics[i]));
      });

      it('keeps the publish order of one publisher on one topic, for every subscriber', async function () {
        const [a, b] = [await node(), await node()];
        const here = inbox();
        const there = inbox();
        const alsoThere = inbox();
        a.subscribe('order', here.handler);
        b.subscribe('order', there.handler);
        b.subscribe('order', alsoThere.handler);
        await b.flush();

        const count = 500;
        for (let i = 0; i < count; i++) a.publish('order', { i });
        const expected = Array.from({ length: count }, (_, i) => ({ i }));
        for (const box of [here, there, alsoThere]) {
          await received(box, count, 'every event');
          expect(box.events).to.deep.equal(expected);
        }
      });

      it('keeps each publisher in order when several publish to one topic at once', async function () {
        const [a, b, c] = [await node(), await node(), await node()];
        const box = inbox();
        c.subscribe('shared', box.handler);
        await c.flush();

        for (let i = 0; i < 200; i++) {
          a.publish('shared', { from: 'a', i });
          b.publish('shared', { from: 'b', i });
        }
        await received(box, 400, 'both publishers');
        for (const from of ['a', 'b']) {
          const seen = box.events.filter((e) => e.from === from).map((e) => e.i);
          expect(seen).to.deep.equal(Array.from({ length: 200 }, (_, i) => i), `publisher ${from}`);
        }
      });

      it('calls handlers asynchronously, never inside publish or subscribe', async function () {
        const bus = await node();
        const box = inbox();
        bus.subscribe('async', box.handler);
        bus.publish('async', { n: 1 });
        expect(box.events).to.deep.equal([], 'no handler ran inside publish');
        await received(box, 1, 'the event, later');
      });

      it('delivers to a subscription only what is published after it was made', async function () {
        const bus = await node();
        bus.publish('late', { n: 1 });
        const box = inbox();
        bus.subscribe('late', box.handler);
        bus.publish('late', { n: 2 });
        await received(box, 1, 'the second event');
        await settle(bus, bus, 'late');
        expect(withoutMarkers(box)).to.deep.equal([{ n: 2 }]);
      });

      it('gives each handler a copy of its own, which it may change without affecting others or the publisher', async function () {
        const [a, b] = [await node(), await node()];
        const original = { user: 7, nested: { list: [1, 2, 3], flag: true }, text: 'héllo ✓', none: null };
        const snapshot = JSON.parse(JSON.stringify(original)) as BusEvent;
        const seen: BusEvent[] = [];
        const vandal = (event: BusEvent) => {
          const nested = event.nested as { list: number[]; flag: boolean };
          nested.list.push(99);
          nested.flag = false;
          event.user = -1;
          seen.push(event);
        };
        const first = inbox();
        const second = inbox();
        const remote = inbox();
        a.subscribe('copy', vandal);
        a.subscribe('copy', first.handler);
        a.subscribe('copy', second.handler);
        b.subscribe('copy', remote.handler);
        await b.flush();

        const published = JSON.parse(JSON.stringify(original)) as BusEvent;
        a.publish('copy', published);
        (published.nested as { list: number[] }).list.length = 0; // the publisher reuses its object at once
        await received(first, 1, 'first');
        await received(second, 1, 'second');
        await received(remote, 1, 'remote');
        await eventually('the vandal', () => seen.length === 1, WAIT_MS);
        for (const box of [first, second, remote]) expect(box.events[0]).to.deep.equal(snapshot);
        expect(first.events[0]).to.not.equal(second.events[0], 'two handlers, two objects');
        expect(original).to.deep.equal(snapshot);
      });

      it('keeps delivering to everyone, the thrower included, when a handler throws, and reports the error with its topic', async function () {
        const [a, b] = [await node(), await node()];
        let thrown = 0;
        b.subscribe('boom', () => {
          thrown++;
          throw new Error(`handler failed ${thrown}`);
        });
        const after = inbox();
        b.subscribe('boom', after.handler);
        await b.flush();

        a.publish('boom', { n: 1 });
        a.publish('boom', { n: 2 });
        await received(after, 2, 'the handler after the thrower');
        await eventually('both reports', () => reported.length === 2, WAIT_MS);
        expect(thrown).to.equal(2);
        expect(reported.map((r) => [(r.error as Error).message, r.topic])).to.deep.equal([
          ['handler failed 1', 'boom'],
          ['handler failed 2', 'boom'],
        ]);
        reported.length = 0;
      });

      it('keeps buses of different namespaces apart on one bus server', async function () {
        const ours = await node();
        const theirs = await node({ namespace: `tinychat-test-other-${process.pid}-${Date.now()}` });
        const ourBox = inbox();
        const theirBox = inbox();
        ours.subscribe('news', ourBox.handler);
        theirs.subscribe('news', theirBox.handler);
        await Promise.all([ours.flush(), theirs.flush()]);

        ours.publish('news', { from: 'ours' });
        theirs.publish('news', { from: 'theirs' });
        await received(ourBox, 1, 'our event');
        await received(theirBox, 1, 'their event');
        // Absence cannot be waited for: give a stray event a moment to show up.
        await Promise.all([ours.flush(), theirs.flush()]);
        await sleep(200);
        expect(ourBox.events).to.deep.equal([{ from: 'ours' }]);
        expect(theirBox.events).to.deep.equal([{ from: 'theirs' }]);
      });
    });

    describe('topics and events', function () {
      const invalidTopics = ['', 'a b', 'room.*', '>', 'room.>', 'a..b', '.a', 'a.', 'café', 'tab\there', 'x'.repeat(201)];

      it('refuses invalid topics in publish and subscribe with a TypeError that names the topic', async function () {
        const bus = await node();
        for (const topic of invalidTopics) {
          expect(() => bus.publish(topic, {}), JSON.stringify(topic)).to.throw(TypeError, /invalid bus topic/);
          expect(() => bus.subscribe(topic, () => {}), JSON.stringify(topic)).to.throw(TypeError, /invalid bus topic/);
        }
      });

      it('carries any outside value safely as a topic part, distinct values to distinct topics', async function () {
        const [a, b] = [await node(), await node()];
        const names = ['Ann Marie', 'Ann.Marie', 'Ann*', 'Ann>', 'Ann%20Marie', 'Änn'];
        const boxes = names.map(() => inbox());
        names.forEach((n, i) => b.subscribe(`user.${topicPart(n)}.online`, boxes[i].handler));
        await b.flush();

        names.forEach((n) => a.publish(`user.${topicPart(n)}.online`, { name: n }));
        for (const [i, box] of boxes.entries()) await received(box, 1, names[i]);
        for (const n of names) await settle(a, b, `user.${topicPart(n)}.online`);
        boxes.forEach((box, i) => expect(withoutMarkers(box)).to.deep.equal([{ name: names[i] }]));
      });

      it('refuses an event that is not a JSON object, cannot be serialised, or is too large', async function () {
        const bus = await node();
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        const bad: unknown[] = [null, [1, 2], 'text', 7, cyclic, { big: BigInt(1) }];
        for (const event of bad) {
          expect(() => bus.publish('t', event as BusEvent)).to.throw(TypeError, /JSON/);
        }
        expect(() => bus.publish('t', { blob: 'x'.repeat(MAX_EVENT_BYTES) })).to.throw(RangeError, /more than 65536/);
      });
    });

    describe('stopping', function () {
      it('never calls a handler again once unsubscribe returns, even for events already on their way', async function () {
        const [a, b] = [await node(), await node()];
        // The first event makes another handler unsubscribe `gone`; the
        // events after it are by then queued or in the same network read.
        let sub: BusSubscription | undefined;
        b.subscribe('stop', () => {
          sub?.unsubscribe();
          sub?.unsubscribe(); // twice is harmless
        });
        const gone = inbox();
        sub = b.subscribe('stop', gone.handler);
        await b.flush();

        for (let n = 0; n < 500; n++) a.publish('stop', { n });
        await settle(a, b, 'stop');
        // The event that triggered the unsubscribe may have reached `gone` first; nothing after it may.
        expect(gone.events.filter((e) => e.n !== 0)).to.deep.equal([]);
      });

      it('lets a handler unsubscribe itself', async function () {
        const bus = await node();
        const events: BusEvent[] = [];
        const sub = bus.subscribe('once', (event) => {
          events.push(event);
          sub.unsubscribe();
        });
        for (let i = 0; i < 3; i++) bus.publish('once', { i });
        await settle(bus, bus, 'once');
        expect(events).to.deep.equal([{ i: 0 }]);
      });

      it('tells state listeners about close once, stops all delivery, and can be closed twice', async function () {
        const [a, b] = [await node(), await node()];
        const states: BusState[] = [];
        const removed: BusState[] = [];
        b.onStateChange((state) => states.push(state));
        b.onStateChange((state) => removed.push(state))();
        const box = inbox();
        b.subscribe('after-close', box.handler);
        await b.flush();

        await b.close();
        await b.close();
        expect(b.state).to.equal('closed');
        expect(states).to.deep.equal(['closed']);
        expect(removed).to.deep.equal([], 'a removed listener hears nothing');

        a.publish('after-close', { n: 1 });
        await settle(a, a, 'after-close');
        expect(box.events).to.deep.equal([]);
      });

      it('drops publishes on a closed bus without throwing, and gives subscriptions that never fire', async function () {
        const [a, b] = [await node(), await node()];
        const box = inbox();
        a.subscribe('closed', box.handler);
        await a.flush();
        await b.close();

        expect(() => b.publish('closed', { n: 1 })).to.not.throw();
        const dead = inbox();
        const sub = b.subscribe('closed', dead.handler);
        sub.unsubscribe();
        b.subscribe('closed', dead.handler);
        expect(() => b.publish('no such topic', {}), 'programming errors still throw').to.throw(TypeError);
        await b.flush();

        a.publish('closed', { n: 2 });
        await received(box, 1, 'the open node');
        await settle(a, a, 'closed');
        expect(withoutMarkers(box)).to.deep.equal([{ n: 2 }]);
        expect(dead.events).to.deep.equal([]);
      });

      it('keeps delivering when a state listener throws, reporting the error', async function () {
        const bus = await node();
        bus.onStateChange(() => {
          throw new Error('listener failed');
        });
        const heard: BusState[] = [];
        bus.onStateChange((state) => heard.push(state));
        await bus.close();
        expect(heard).to.deep.equal(['closed']);
        expect(reported.map((r) => (r.error as Error).message)).to.deep.equal(['listener failed']);
        reported.length = 0;
      });
    });
  });
}

