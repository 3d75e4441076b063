import { expect } from 'chai';
import { connect } from '@nats-io/transport-node';
import type { Bus, BusEvent, BusOptions, BusState } from '../../src/bus/bus';
import { connectBus } from '../../src/bus/connect-bus';
import { InProcessBus } from '../../src/bus/in-process-bus';
import { connectNatsBus, type NatsBusOptions } from '../../src/bus/nats-bus';
import { eventually, unusedPort } from '../support/eventually';
import { busContract, type BusFixture } from '../contract/bus-contract';
import { startNatsServer, type NatsServerProcess } from '../support/nats-server-process';

/** The NATS server every developer machine and CI runs (.ci/run starts it). */
const SHARED_NATS = 'nats://127.0.0.1:4222';
const WAIT_MS = 15_000;

/** Unique per run and per use, so that runs sharing the server never hear each other. */
let namespaces = 0;
function freshNamespace(): string {
  return `tinychat-test-${process.pid}-${Date.now()}-${++namespaces}`;
}

busContract(`NATS at ${SHARED_NATS}`, async (): Promise<BusFixture> => {
  const namespace = freshNamespace();
  const opened: Bus[] = [];
  return {
    open: async (options: BusOptions) => {
      const bus = await connectNatsBus(SHARED_NATS, { namespace, ...options });
      opened.push(bus);
      return bus;
    },
    cleanup: async () => {
      for (const bus of opened) await bus.close();
    },
  };
});

describe('NatsBus', function () {
  const buses: Bus[] = [];
  const servers: NatsServerProcess[] = [];
  let reported: unknown[];

  beforeEach(function () {
    reported = [];
  });

  afterEach(async function () {
    for (const bus of buses.splice(0)) await bus.close();
    for (const server of servers.splice(0)) await server.stop();
  });

  async function open(url: string, options: NatsBusOptions = {}): Promise<Bus> {
    const bus = await connectBus(url, { namespace: freshNamespace(), onError: (err) => reported.push(err), ...options });
    buses.push(bus);
    return bus;
  }

  async function privateServer(port?: number): Promise<NatsServerProcess> {
    const server = await startNatsServer(port ?? (await unusedPort()));
    servers.push(server);
    return server;
  }

  async function rejection(promise: Promise<unknown>): Promise<Error> {
    try {
      await promise;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected the promise to reject');
  }

  describe('connecting', function () {
    it('describes itself by the server URL, without credentials', async function () {
      const bus = await open('nats://someone:s3cret@127.0.0.1:4222');
      expect(bus.description).to.equal('nats://127.0.0.1:4222');
      const defaultPort = await open('nats://127.0.0.1');
      expect(defaultPort.description).to.equal('nats://127.0.0.1:4222');
    });

    it('rejects with a sentence that names the URL when no server listens there', async function () {
      const port = await unusedPort();
      const err = await rejection(connectBus(`nats://127.0.0.1:${port}`, {}));
      expect(err.message).to.match(new RegExp(`^cannot reach the bus at nats://127\\.0\\.0\\.1:${port} — is nats-server running\\? \\(.+\\)$`));
    });

    it('gives an in-process bus without a URL, and refuses other schemes without echoing credentials', async function () {
      const local = await connectBus(undefined);
      expect(local).to.be.instanceOf(InProcessBus);
      await local.close();
      for (const url of ['redis://admin:hunter2@127.0.0.1:6379', 'http://127.0.0.1:4222', '127.0.0.1:4222', 'localhost:4222', '']) {
        const err = await rejection(connectBus(url));
        expect(err.message, url).to.match(/^cannot use a .* for the bus: give nats:\/\/HOST:PORT .*or no URL for a single node$/);
        expect(err.message).to.not.include('hunter2');
      }
    });
  });

  describe('when the server goes away', function () {
    it('says disconnected when its server dies, connected when it is back, and delivers again', async function () {
      const server = await privateServer();
      const options = { reconnectWaitMs: 100, namespace: freshNamespace() };
      const [pub, sub] = [await open(server.url, options), await open(server.url, options)];
      const states: BusState[] = [];
      sub.onStateChange((state) => states.push(state));
      const got: BusEvent[] = [];
      sub.subscribe('inbox.42', (event) => got.push(event));
      await sub.flush();
      pub.publish('inbox.42', { sequence: 1 });
      await eventually('the first event', () => got.length === 1, WAIT_MS);

      await server.stop('SIGKILL');
      await eventually('both buses disconnected', () => pub.state === 'disconnected' && sub.state === 'disconnected', WAIT_MS);
      expect(() => pub.publish('inbox.42', { sequence: 2 }), 'publishing while down').to.not.throw();
      await pub.flush(); // resolves although nobody can answer

      await privateServer(server.port);
      await eventually('both buses connected again', () => pub.state === 'connected' && sub.state === 'connected', WAIT_MS);
      await sub.flush(); // its subscription has reached the new server
      pub.publish('inbox.42', { sequence: 3 });
      await eventually('an event after the restart', () => got.some((e) => e.sequence === 3), WAIT_MS);
      expect(got.map((e) => e.sequence)).to.deep.equal([1, 3], 'the event published while down is dropped, not replayed');
      expect(states).to.deep.equal(['disconnected', 'connected']);
      expect(reported).to.deep.equal([]);
    });

    it('never throws into a publisher when the server is killed mid-stream, and closes promptly while it is down', async function () {
      const server = await privateServer();
      const bus = await open(server.url, { reconnectWaitMs: 100 });
      let published = 0;
      let thrown: unknown;
      const sawDisconnect = new Promise<void>((resolve) => bus.onStateChange((s) => s === 'disconnected' && resolve()));
      let keepGoing = true;
      // Publishes on every turn of the event loop, before and after the kill.
      const publisher = (async () => {
        while (keepGoing) {
          try {
            for (let i = 0; i < 50; i++) bus.publish('flood', { n: published++, pad: 'x'.repeat(200) });
          } catch (err) {
            thrown = err;
            return;
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      await eventually('some publishing', () => published > 1000, WAIT_MS);
      await server.stop('SIGKILL');
      await sawDisconnect;
      const atDisconnect = published;
      await eventually('publishing while down', () => published > atDisconnect + 1000, WAIT_MS);
      keepGoing = false;
      await publisher;
      expect(thrown).to.equal(undefined);

      const started = Date.now();
      await bus.close();
      expect(Date.now() - started).to.be.below(3000, 'close while the server is down');
      expect(bus.state).to.equal('closed');
      expect(reported).to.deep.equal([]);
    });
  });

  it('reports an event on the wire that is not a JSON object, and goes on delivering', async function () {
    const namespace = freshNamespace();
    const bus = await open(SHARED_NATS, { namespace });
    const got: BusEvent[] = [];
    bus.subscribe('mixed', (event) => got.push(event));
    await bus.flush();
    const raw = await connect({ servers: SHARED_NATS });
    try {
      raw.publish(`${namespace}.mixed`, 'not json');
      raw.publish(`${namespace}.mixed`, '[1,2]');
      raw.publish(`${namespace}.mixed`, '{"ok":true}');
      await raw.flush();
    } finally {
      await raw.close();
    }
    await eventually('the valid event', () => got.length === 1, WAIT_MS);
    expect(got).to.deep.equal([{ ok: true }]);
    expect(reported).to.have.length(2);
    reported.length = 0;
  });
});
