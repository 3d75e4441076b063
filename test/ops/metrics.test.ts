import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import type { ServerFrame } from '../../src/gen/tinychat/v1/chat';
import { listenForMetrics } from '../../src/ops/metrics-endpoint';
import type { MetricsEndpoint } from '../../src/ops/metrics';
import { eventually } from '../support/eventually';
import { WireClient, WireClients } from '../support/grpc-client';
import { scrapeMetrics, value } from '../support/metrics-scrape';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { expectStatus } from '../support/expect-status';

describe('Prometheus metrics', function () {
  let server: TestServer | undefined;
  let endpoint: MetricsEndpoint | undefined;
  const wire = new WireClients(() => server!.target);

  afterEach(async () => {
    wire.cancelStreams();
    wire.closeClients();
    await server?.stop();
    server = undefined;
    endpoint = undefined;
    removeTempDirs();
  });

  async function start(options: Parameters<typeof startTestServer>[0] = {}): Promise<void> {
    endpoint = await listenForMetrics('127.0.0.1', 0);
    server = await startTestServer({ ...options, metrics: endpoint });
  }

  it('counts the traffic of two people chatting: logins, streams, messages stored, delivered and refused, with latencies', async () => {
    await start();
    const alice = await wire.user('alice');
    const bob = await wire.user('bob');
    const guesser = new WireClient(server!.target);
    wire.clients.push(guesser);
    await expectStatus(guesser.login('alice', 'not alices password'), status.UNAUTHENTICATED);
    guesser.close();

    const bobStream = wire.open(bob);
    await bobStream.until('bob ready', (s) => s.frames.length > 0);
    const aliceStream = wire.open(alice);
    await aliceStream.until('alice ready', (s) => s.frames.length > 0);
    for (const i of [1, 2, 3]) aliceStream.send('bob', `message ${i}`, `m${i}`);
    await aliceStream.until('three receipts', (s) => s.receipts.length === 3);
    await bobStream.until('three messages', (s) => s.messages.length === 3);
    // A retry of a stored send: answered again, stored once.
    aliceStream.send('bob', 'message 1', 'm1');
    aliceStream.send('bob', '   ', 'empty');
    aliceStream.send('nobody-here', 'hello?', 'lost');
    await aliceStream.until('a fourth receipt and two refusals', (s) => s.receipts.length === 4 && s.errors.length === 2);

    const scrape = await scrapeMetrics(endpoint!.address);
    // grpc-js clients of one process share one connection per target.
    expect(value(scrape, 'tinychat_open_connections')).to.equal(1);
    expect(value(scrape, 'tinychat_logins_total{outcome="ok"}')).to.equal(2);
    expect(value(scrape, 'tinychat_logins_total{outcome="failed"}')).to.equal(1);
    expect(value(scrape, 'tinychat_streams_opened_total')).to.equal(2);
    expect(value(scrape, 'tinychat_open_streams')).to.equal(2);
    expect(value(scrape, 'tinychat_online_users')).to.equal(2);
    expect(value(scrape, 'tinychat_messages_stored_total')).to.equal(3);
    expect(value(scrape, 'tinychat_messages_delivered_total')).to.equal(3);
    expect(value(scrape, 'tinychat_messages_refused_total{reason="invalid_argument"}')).to.equal(1);
    expect(value(scrape, 'tinychat_messages_refused_total{reason="not_found"}')).to.equal(1);
    expect(value(scrape, 'tinychat_receipt_latency_seconds_count')).to.equal(4);
    expect(value(scrape, 'tinychat_receipt_latency_seconds_sum')).to.be.greaterThan(0).and.lessThan(4 * 5);
    expect(value(scrape, 'tinychat_delivery_lag_seconds_count')).to.equal(3);
    // Four appends (the retry finds the original in the store), in one to four transactions.
    expect(value(scrape, 'tinychat_store_batch_size_sum')).to.equal(4);
    const commits = value(scrape, 'tinychat_store_commit_seconds_count');
    expect(commits).to.be.within(1, 4);
    expect(value(scrape, 'tinychat_store_batch_size_count')).to.equal(commits);
    expect(value(scrape, 'tinychat_outbound_queue_depth_max')).to.equal(0);
    expect(value(scrape, 'tinychat_outbound_queue_depth_count')).to.equal(2);
    expect(value(scrape, 'tinychat_outbound_queue_depth_bucket{le="0"}')).to.equal(2);
    expect(scrape.has('tinychat_streams_cut_off_total')).to.equal(false);
    expect(scrape.has('tinychat_bus_connected')).to.equal(false, 'a single node has no bus');
    expect(value(scrape, 'process_cpu_seconds_total')).to.be.greaterThan(0);
    expect(value(scrape, 'nodejs_eventloop_lag_seconds')).to.be.at.least(0);
    // Bounded cardinality: no series is labelled with a name or a message.
    for (const series of scrape.keys()) expect(/\{.*\}/.exec(series)?.[0] ?? '').to.not.match(/alice|bob|"m\d"/);
  });

  it('counts a room message once as stored, one delivery per member’s stream, and its receipt latency', async () => {
    await start();
    const members = await Promise.all(['alice', 'bob', 'carol'].map((name) => wire.user(name)));
    for (const member of members) await member.command('/JOIN #dev');
    const streams = members.map((member) => wire.open(member));
    await Promise.all(streams.map((s) => s.until('the joins', (x) => x.messages.length >= 1)));
    const before = await scrapeMetrics(endpoint!.address);
    streams[0].send('#dev', 'to everyone', 'r1');
    streams[0].send('#dev', 'to everyone', 'r1');
    await streams[0].until('two receipts', (s) => s.receipts.length === 2);
    await Promise.all(streams.map((s) => s.until('the message', (x) => x.messages.some((m) => m.body === 'to everyone'))));
    const scrape = await scrapeMetrics(endpoint!.address);
    expect(value(scrape, 'tinychat_messages_stored_total') - (before.has('tinychat_messages_stored_total') ? value(before, 'tinychat_messages_stored_total') : 0)).to.equal(1);
    expect(value(scrape, 'tinychat_messages_delivered_total') - value(before, 'tinychat_messages_delivered_total')).to.equal(3);
    expect(value(scrape, 'tinychat_receipt_latency_seconds_count') - (before.has('tinychat_receipt_latency_seconds_count') ? value(before, 'tinychat_receipt_latency_seconds_count') : 0)).to.equal(2);
  });

  it('counts a locked-out login apart from a failed one', async () => {
    await start({ limits: { login: { perName: 1, perAddress: 100, windowMs: 60_000 } } });
    await wire.user('alice');
    const guesser = new WireClient(server!.target);
    wire.clients.push(guesser);
    await expectStatus(guesser.login('alice', 'wrong password one'), status.UNAUTHENTICATED);
    await expectStatus(guesser.login('alice', 'wrong password two'), status.RESOURCE_EXHAUSTED);
    const scrape = await scrapeMetrics(endpoint!.address);
    expect(value(scrape, 'tinychat_logins_total{outcome="ok"}')).to.equal(1);
    expect(value(scrape, 'tinychat_logins_total{outcome="failed"}')).to.equal(1);
    expect(value(scrape, 'tinychat_logins_total{outcome="locked_out"}')).to.equal(1);
  });

  it('counts a stream cut off for lagging, and shows the backlog it left while it lasted', async () => {
    const QUEUE_LIMIT = 16;
    await start({ queueLimit: QUEUE_LIMIT, limits: { sendRate: { perSecond: 0, burst: 1 } } });
    const alice = await wire.user('alice');
    const bob = await wire.user('bob');
    const slow = wire.open(bob);
    await slow.until('bob ready', (s) => s.frames.length > 0);
    slow.call.pause();
    const aliceStream = wire.open(alice);
    await aliceStream.until('alice ready', (s) => s.frames.length > 0);
    let receipts = 0;
    aliceStream.call.on('data', (frame: ServerFrame) => (receipts += frame.receipts.length));
    const body = 'x'.repeat(4000);
    // Until bob's stream is cut off: HTTP/2 flow control stops the server's
    // writes once bob stops reading, and his queue then grows past the limit.
    for (let sent = 0; ; sent += 50) {
      for (let i = 0; i < 50; i++) aliceStream.send('bob', body, `flood-${sent + i}`);
      await eventually('receipts', () => receipts === sent + 50);
      const scrape = await scrapeMetrics(endpoint!.address);
      if (scrape.has('tinychat_streams_cut_off_total{reason="lagging"}')) {
        expect(value(scrape, 'tinychat_streams_cut_off_total{reason="lagging"}')).to.equal(1);
        expect(value(scrape, 'tinychat_open_streams')).to.equal(1);
        expect(value(scrape, 'tinychat_messages_stored_total')).to.equal(sent + 50);
        break;
      }
      // While bob's stream lasts, his queue holds what he has not read.
      expect(value(scrape, 'tinychat_outbound_queue_depth_max')).to.be.at.most(QUEUE_LIMIT);
      expect(sent).to.be.lessThan(5000, 'bob was never cut off');
    }
    slow.call.resume();
    const ended = await slow.ended();
    expect(ended.code).to.equal(status.RESOURCE_EXHAUSTED);
  });

  it('counts store errors by operation when the database is full', async () => {
    await start();
    const alice = await wire.user('alice');
    await wire.user('bob');
    const stream = wire.open(alice);
    await stream.until('ready', (s) => s.frames.length > 0);
    server!.setMaxPageCount(1);
    // One at a time, until the capped file has no room left for one more.
    for (let i = 0; stream.errors.length === 0; i++) {
      expect(i).to.be.lessThan(100, 'the database never filled');
      stream.send('bob', 'y'.repeat(4000), `s${i}`);
      await stream.until(`an answer to send ${i}`, (s) => s.receipts.length + s.errors.length === i + 1);
    }
    expect(stream.errors[0].code).to.equal(status.UNAVAILABLE);
    const scrape = await scrapeMetrics(endpoint!.address);
    expect(value(scrape, 'tinychat_store_errors_total{operation="appendMessages"}')).to.equal(1);
    expect(value(scrape, 'tinychat_messages_refused_total{reason="unavailable"}')).to.equal(1);
    expect(value(scrape, 'tinychat_messages_stored_total')).to.equal(stream.receipts.length);
  });

  it('answers 404 away from /metrics', async () => {
    await start();
    const response = await fetch(`http://${endpoint!.address}/other`);
    expect(response.status).to.equal(404);
    expect(await response.text()).to.include('/metrics');
  });
});
