import { expect } from 'chai';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { WireClient, WireClients } from '../support/grpc-client';
import { removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { expectStatus } from '../support/expect-status';

/**
 * The server decides who a caller is from the session token alone. Each test
 * here is one attempt to act as, or read as, somebody else.
 */
describe('authorization', function () {
  let server: TestServer;
  const wire = new WireClients(() => server.target);
  let alice: WireClient;
  let bob: WireClient;
  let mallory: WireClient;

  const user = (name: string) => wire.user(name);
  const open = (client: WireClient, afterSequence?: number) => wire.open(client, afterSequence);

  beforeEach(async () => {
    server = await startTestServer();
    alice = await user('alice');
    bob = await user('bob');
    mallory = await user('mallory');
    // Alice and Bob have a private conversation.
    const a = open(alice);
    a.send('bob', 'for bob only', 'a1');
    a.send('bob', 'also private', 'a2');
    await a.until('receipts', (s) => s.receipts.length === 2);
    a.cancel();
  });

  afterEach(async () => {
    wire.cancelStreams();
    wire.closeClients();
    await server.stop();
    removeTempDirs();
  });

  it('stamps every message with the token’s user: nobody can send as someone else', async () => {
    const m = open(mallory);
    m.send('bob', 'hello from "alice"', 'm1');
    await m.until('receipt', (s) => s.receipts.length === 1);
    const b = open(bob);
    await b.until('three messages', (s) => s.messages.length === 3);
    expect(b.messages.map((msg) => msg.sender)).to.deep.equal(['alice', 'alice', 'mallory']);
  });

  it('never delivers another user’s inbox: a stream only carries its own user’s messages', async () => {
    const m = open(mallory, 0);
    await m.until('ready', (s) => s.frames.length > 0);
    expect(m.frames[0].ready).to.deep.include({ user: 'mallory', lastSequence: 0 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(m.messages).to.deep.equal([]);
  });

  it('shows /HISTORY only of the caller’s own conversations', async () => {
    const page = await mallory.command('/HISTORY bob');
    expect(page.result?.$case === 'history' && page.result.history.messages).to.deep.equal([]);
    const withAlice = await mallory.command('/HISTORY alice');
    expect(withAlice.result?.$case === 'history' && withAlice.result.history.messages).to.deep.equal([]);
    const own = await bob.command('/HISTORY alice');
    expect(own.result?.$case === 'history' && own.result.history.messages.map((m) => m.body)).to.deep.equal([
      'for bob only',
      'also private',
    ]);
  });

  it('does not let /START reveal someone else’s conversation', async () => {
    const started = await mallory.command('/START bob');
    expect(started.result?.$case === 'conversation' && started.result.conversation.recent).to.deep.equal([]);
    expect(started.text).to.not.contain('for bob only');
  });

  it('refuses to acknowledge beyond the caller’s own inbox, leaving other users’ positions alone', async () => {
    const m = open(mallory);
    await m.until('ready', (s) => s.frames.length > 0);
    m.ack(2);
    await m.until('the refusal', (s) => s.errors.length === 1);
    expect(m.errors[0].code).to.equal(status.INVALID_ARGUMENT);
    const b = open(bob);
    await b.until('ready', (s) => s.frames.length > 0);
    expect(b.frames[0].ready?.ackedSequence).to.equal(0);
    await b.until('bob’s own two messages', (s) => s.messages.length === 2);
  });

  it('answers a resume past the caller’s inbox with an error, not with anyone’s messages', async () => {
    const m = open(mallory, 1);
    await m.until('the refusal', (s) => s.errors.length === 1);
    expect(m.errors[0].code).to.equal(status.INVALID_ARGUMENT);
    expect(m.messages).to.deep.equal([]);
  });

  it('refuses every call with a missing, forged or ended token', async () => {
    const forged = new WireClient(server.target);
    wire.clients.push(forged);
    for (const token of [undefined, 'forged-token', alice.token!.slice(0, -1) + (alice.token!.endsWith('A') ? 'B' : 'A')]) {
      await expectStatus(forged.command('/USERS', token), status.UNAUTHENTICATED);
      const stream = forged.converse(token);
      wire.track(stream);
      expect((await stream.ended()).code).to.equal(status.UNAUTHENTICATED);
    }
    const ended = alice.token!;
    await alice.command('/QUIT');
    await expectStatus(forged.command('/USERS', ended), status.UNAUTHENTICATED);
  });

  it('accepts a token only as a Bearer credential in the authorization header', async () => {
    const metadata = new Metadata();
    metadata.set('token', alice.token!);
    const err = await new Promise<ServiceError | null>((resolve) =>
      alice.client.command({ loginOnly: false, input: { $case: 'line', line: '/USERS' } }, metadata, (e) => resolve(e)),
    );
    expect(err?.code).to.equal(status.UNAUTHENTICATED);
  });

  it('tells /USERS only names, presence and last-seen times', async () => {
    const response = await mallory.command('/USERS');
    const users = response.result?.$case === 'users' ? response.result.users.users : [];
    for (const entry of users) expect(Object.keys(entry).sort()).to.deep.equal(['lastSeen', 'name', 'online']);
    expect(response.text).to.not.match(/scrypt|token/i);
  });

  it('answers a failed login without echoing the password it was given', async () => {
    const stranger = new WireClient(server.target);
    wire.clients.push(stranger);
    const err = await expectStatus(stranger.login('alice', 'guessing-password'), status.UNAUTHENTICATED);
    expect(err.details).to.contain('wrong name or password');
    expect(err.details).to.not.contain('guessing-password');
  });
});
