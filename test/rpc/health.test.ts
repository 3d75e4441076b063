import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { HealthClient, type HealthStub } from '../support/health-probe';
import { createHealth, type Health } from '../../src/rpc/health';



describe('the health service', function () {
  let server: grpc.Server;
  let health: Health;
  let client: HealthStub;
  const watches: grpc.ClientReadableStream<unknown>[] = [];

  function check(service: string): Promise<string> {
    return new Promise((resolve, reject) =>
      client.check({ service }, (err, response) => (err ? reject(err) : resolve(response!.status))),
    );
  }

  function checkError(service: string): Promise<grpc.ServiceError> {
    return check(service).then(
      (status) => {
        throw new Error(`expected an error, got ${status}`);
      },
      (err: grpc.ServiceError) => err,
    );
  }

  /** Opens a Watch and returns a function that resolves with the next status it sees. */
  function watch(service: string): { next(): Promise<string>; ended: Promise<grpc.ServiceError | null> } {
    const call = client.watch({ service });
    watches.push(call);
    const seen: string[] = [];
    const waiting: ((status: string) => void)[] = [];
    call.on('data', (response: { status: string }) => {
      const waiter = waiting.shift();
      if (waiter) waiter(response.status);
      else seen.push(response.status);
    });
    const ended = new Promise<grpc.ServiceError | null>((resolve) => {
      call.on('error', (err: grpc.ServiceError) => resolve(err));
      call.on('end', () => resolve(null));
    });
    return {
      next: () => (seen.length > 0 ? Promise.resolve(seen.shift()!) : new Promise((resolve) => waiting.push(resolve))),
      ended,
    };
  }

  beforeEach(async function () {
    server = new grpc.Server();
    health = createHealth();
    health.register(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
    client = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as HealthStub;
  });

  afterEach(async function () {
    for (const call of watches.splice(0)) call.cancel();
    client.close();
    await new Promise<void>((resolve, reject) => server.tryShutdown((err) => (err ? reject(err) : resolve())));
  });

  it('reports the whole server and the chat service as SERVING', async function () {
    expect(await check('')).to.equal('SERVING');
    expect(await check('tinychat.v1.Chat')).to.equal('SERVING');
  });

  it('answers NOT_FOUND for a service it does not know, naming the ones it does', async function () {
    const err = await checkError('tinychat.v1.Nope');
    expect(err.code).to.equal(grpc.status.NOT_FOUND);
    expect(err.details).to.contain('tinychat.v1.Chat');
  });

  it('reports NOT_SERVING after setServing(false), and Watch streams see the change', async function () {
    const watcher = watch('tinychat.v1.Chat');
    expect(await watcher.next()).to.equal('SERVING');
    health.setServing(false);
    expect(await watcher.next()).to.equal('NOT_SERVING');
    expect(await check('')).to.equal('NOT_SERVING');
    expect(await check('tinychat.v1.Chat')).to.equal('NOT_SERVING');
    health.setServing(true);
    expect(await watcher.next()).to.equal('SERVING');
  });

  it('tells a watcher of an unknown service SERVICE_UNKNOWN once and keeps the stream open', async function () {
    const watcher = watch('tinychat.v1.Nope');
    expect(await watcher.next()).to.equal('SERVICE_UNKNOWN');
    health.setServing(false);
    const settled = await Promise.race([watcher.next(), watcher.ended, check('').then(() => 'quiet')]);
    expect(settled).to.equal('quiet');
  });

  it('on shutdown reports NOT_SERVING, then ends every Watch stream with UNAVAILABLE', async function () {
    const watcher = watch('');
    expect(await watcher.next()).to.equal('SERVING');
    health.shutdown();
    expect(await watcher.next()).to.equal('NOT_SERVING');
    expect((await watcher.ended)?.code).to.equal(grpc.status.UNAVAILABLE);
    const late = watch('');
    expect(await late.next()).to.equal('NOT_SERVING');
    expect((await late.ended)?.code).to.equal(grpc.status.UNAVAILABLE);
  });
});
