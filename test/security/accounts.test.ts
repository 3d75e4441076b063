import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TEST_PASSWORD, WireClient, type WireStream } from '../support/grpc-client';
import { makeTempDir, removeTempDirs, startTestServer, type TestServer } from '../support/test-server';
import { runCli, type CliResult } from '../support/cli';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { UserAdmin } from '../../src/admin/user-admin';
import type { ServerOptions } from '../../src/rpc/server';
import { expectStatus } from '../support/expect-status';

/** Runs `tinychat user …` with TINYCHAT_PASSWORD set to `password`, or unset. */
function userCli(args: string[], password?: string): Promise<CliResult> {
  return runCli(['user', ...args], { env: { TINYCHAT_PASSWORD: password } });
}

describe('accounts', function () {
  let server: TestServer;
  const clients: WireClient[] = [];
  const streams: WireStream[] = [];

  const client = () => {
    const c = new WireClient(server.target);
    clients.push(c);
    return c;
  };

  async function restart(options: Partial<ServerOptions> = {}): Promise<void> {
    const { dbPath } = server;
    await server.stop();
    server = await startTestServer({ dbPath, ...options });
  }

  beforeEach(async () => {
    server = await startTestServer();
  });

  afterEach(async () => {
    for (const stream of streams.splice(0)) if (!stream.status) stream.cancel();
    for (const c of clients.splice(0)) c.close();
    await server.stop();
    removeTempDirs();
  });

  it('registers a name with the password of its first login, and later logins need that password', async () => {
    await client().login('alice', 'first password');
    await client().login('alice', 'first password');
    const wrong = await expectStatus(client().login('alice', 'second password'), status.UNAUTHENTICATED);
    expect(wrong.details).to.contain('wrong name or password');
    expect(wrong.details).to.not.contain('first password');
  });

  it('registers a name once when its first logins race: the same password gets in, another is refused and opens no session', async () => {
    const [first, again, other] = await Promise.allSettled([
      client().login('dora', 'first password'),
      client().login('dora', 'first password'),
      client().login('dora', 'other password'),
    ]);
    expect(first.status).to.equal('fulfilled');
    expect(again.status).to.equal('fulfilled');
    expect(other.status).to.equal('rejected');
    expect((other as PromiseRejectedResult).reason.code).to.equal(status.UNAUTHENTICATED);
    await server.stop();
    const db = new Database(server.dbPath, { readonly: true });
    try {
      const rows = db.prepare('SELECT u.name, count(s.token_hash) AS sessions FROM users u LEFT JOIN sessions s ON s.user_id = u.id GROUP BY u.id').all();
      expect(rows).to.deep.equal([{ name: 'dora', sessions: 2 }]);
    } finally {
      db.close();
    }
    server = await startTestServer({ dbPath: server.dbPath });
  });

  it('refuses to register a name with a password shorter than 8 characters', async () => {
    const err = await expectStatus(client().login('bob', 'short'), status.INVALID_ARGUMENT);
    expect(err.details).to.contain('at least 8 characters');
    const users = await startedUsers();
    expect(users).to.not.include('bob');
  });

  async function startedUsers(): Promise<string[]> {
    const admin = client();
    await admin.login('observer');
    const response = await admin.command('/USERS');
    return response.result?.$case === 'users' ? response.result.users.users.map((u) => u.name) : [];
  }

  it('stores only a salted scrypt hash of each password and a hash of each token', async () => {
    const alice = client();
    await alice.login('alice');
    const bob = client();
    await bob.login('bob');
    await server.stop();
    const db = new Database(server.dbPath, { readonly: true });
    try {
      const hashes = db.prepare('SELECT password_hash AS hash FROM users ORDER BY id').all() as { hash: string }[];
      for (const { hash } of hashes) {
        expect(hash).to.match(/^scrypt\$\d+\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
        expect(hash).to.not.contain(TEST_PASSWORD);
      }
      expect(hashes[0].hash).to.not.equal(hashes[1].hash, 'same password, different salts');
      const tokens = db.prepare('SELECT token_hash AS hash FROM sessions').all() as { hash: string }[];
      expect(tokens.map((t) => t.hash)).to.not.include(alice.token).and.not.include(bob.token);
    } finally {
      db.close();
    }
    server = await startTestServer({ dbPath: server.dbPath });
  });

  it('changes a password with /PASSWORD, ending the other sessions and their streams but not this one', async () => {
    const here = client();
    await here.login('alice');
    const elsewhere = client();
    await elsewhere.login('alice');
    const elsewhereStream = elsewhere.converse();
    streams.push(elsewhereStream);
    elsewhereStream.resume();
    await elsewhereStream.until('ready', (s) => s.frames.length > 0);

    // Unquoted, a password with spaces is several arguments: the answer says to quote it.
    const spaced = await expectStatus(here.command(`/PASSWORD ${TEST_PASSWORD} new secret words`), status.INVALID_ARGUMENT);
    expect(spaced.details).to.contain('usage: /PASSWORD').and.contain('put quotes around an argument with spaces');
    const unclosed = await expectStatus(here.command(`/PASSWORD "${TEST_PASSWORD} new`), status.INVALID_ARGUMENT);
    expect(unclosed.details).to.contain('never closed');

    const wrong = await expectStatus(here.command('/PASSWORD not-the-password "new secret words"'), status.PERMISSION_DENIED);
    expect(wrong.details).to.contain('current password is wrong');

    const result = await here.command(`/PASSWORD "${TEST_PASSWORD}" "new secret words"`);
    expect(result).to.deep.include({ result: { $case: 'passwordChanged', passwordChanged: { sessionsEnded: 1 } } });

    const ended = await elsewhereStream.ended();
    expect(ended.code).to.equal(status.UNAUTHENTICATED);
    expect(ended.details).to.contain('password was changed');
    await expectStatus(elsewhere.command('/TIME'), status.UNAUTHENTICATED);
    expect((await here.command('/TIME')).result?.$case).to.equal('time');
    await expectStatus(client().login('alice', TEST_PASSWORD), status.UNAUTHENTICATED);
    await client().login('alice', 'new secret words');

    // Quotes and backslashes inside quotes, and the split form, which needs no quoting.
    await here.command(String.raw`/PASSWORD "new secret words" "say \"hi\" \\ bye"`);
    await client().login('alice', String.raw`say "hi" \ bye`);
    await new Promise<unknown>((resolve, reject) =>
      here.client.command(
        { loginOnly: false, input: { $case: 'invocation', invocation: { name: 'PASSWORD', args: [String.raw`say "hi" \ bye`, 'split form words'] } } },
        here.metadata(),
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
    await client().login('alice', 'split form words');
  });

  it('takes the rest of a /LOGIN line as the password, quotes included', async () => {
    await client().login('quoter', '"quoted" pass phrase');
    await expectStatus(client().login('quoter', 'quoted pass phrase'), status.UNAUTHENTICATED);
    await client().login('quoter', '"quoted" pass phrase');
  });

  it('ends a session with /QUIT: its token stops working', async () => {
    const alice = client();
    await alice.login('alice');
    const token = alice.token!;
    await alice.command('/QUIT');
    const err = await expectStatus(alice.command('/TIME', token), status.UNAUTHENTICATED);
    expect(err.details).to.contain('/LOGIN');
  });

  it('lets a token expire after the session lifetime', async () => {
    await restart({ sessionTtlMs: 300 });
    const alice = client();
    await alice.login('alice');
    expect((await alice.command('/TIME')).result?.$case).to.equal('time');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const err = await expectStatus(alice.command('/TIME'), status.UNAUTHENTICATED);
    expect(err.details).to.contain('expired');
    const stream = alice.converse();
    streams.push(stream);
    expect((await stream.ended()).code).to.equal(status.UNAUTHENTICATED);
  });

  describe('with registration closed', () => {
    beforeEach(async () => {
      await restart({ registration: 'closed' });
    });

    it('refuses to register a new name, saying who can create accounts', async () => {
      const err = await expectStatus(client().login('mallory'), status.PERMISSION_DENIED);
      expect(err.details).to.contain('operator');
    });

    it('lets in an account an operator created, with its password', async () => {
      await server.stop();
      const store = openSqliteStore(server.dbPath);
      await new UserAdmin(store, 10).add('carol', 'carols password');
      await store.close();
      server = await startTestServer({ dbPath: server.dbPath, registration: 'closed' });
      await expectStatus(client().login('carol', 'not carols password'), status.UNAUTHENTICATED);
      await client().login('carol', 'carols password');
    });
  });

  describe('names registered before accounts had passwords', () => {
    async function makePasswordless(name: string): Promise<void> {
      await server.stop();
      const db = new Database(server.dbPath);
      db.prepare('INSERT INTO users (name, name_key, created_at, last_seen_at) VALUES (?, ?, 0, 0)').run(name, name.toLowerCase());
      db.close();
    }

    it('are claimed by their next login when registration is open: that password sticks', async () => {
      await makePasswordless('olduser');
      server = await startTestServer({ dbPath: server.dbPath });
      await client().login('olduser', 'claimed password');
      await expectStatus(client().login('olduser', 'another password'), status.UNAUTHENTICATED);
    });

    it('cannot log in when registration is closed until an operator sets a password', async () => {
      await makePasswordless('olduser');
      server = await startTestServer({ dbPath: server.dbPath, registration: 'closed' });
      const err = await expectStatus(client().login('olduser', 'any password'), status.UNAUTHENTICATED);
      expect(err.details).to.contain('tinychat user passwd olduser');
    });
  });

  describe('the tinychat user command', () => {
    it('adds, lists, resets and disables accounts in the database, ending sessions', async () => {
      await server.stop();
      const db = join(makeTempDir(), 'admin.db');
      expect((await userCli(['add', 'dave', '--db', db], 'daves password')).code).to.equal(0);
      const duplicate = await userCli(['add', 'Dave', '--db', db], 'daves password');
      expect(duplicate.code).to.equal(1);
      expect(duplicate.stderr).to.contain('already exists').and.contain('tinychat user passwd');
      const listed = await userCli(['list', '--db', db]);
      expect(listed.stdout).to.match(/dave\s+active/);

      server = await startTestServer({ dbPath: db, registration: 'closed' });
      const dave = client();
      await dave.login('dave', 'daves password');
      const reset = await userCli(['passwd', 'dave', '--db', db], 'new daves password');
      expect(reset.stdout).to.contain('1 session(s) ended');
      await expectStatus(dave.command('/TIME'), status.UNAUTHENTICATED);
      await dave.login('dave', 'new daves password');

      const disabled = await userCli(['del', 'dave', '--db', db]);
      expect(disabled.code).to.equal(0);
      await expectStatus(dave.command('/TIME'), status.UNAUTHENTICATED);
      const refused = await expectStatus(client().login('dave', 'new daves password'), status.UNAUTHENTICATED);
      expect(refused.details).to.contain('disabled');
      expect((await userCli(['list', '--db', db])).stdout).to.match(/dave\s+disabled/);
    });

    it('closes the open streams of an account within a second when an operator resets its password or disables it', async () => {
      const db = server.dbPath;
      const eve = client();
      await eve.login('eve');
      const frank = client();
      await frank.login('frank');
      const eveStream = eve.converse();
      streams.push(eveStream);
      eveStream.resume();
      await eveStream.until('ready', (s) => s.frames.length > 0);

      const reset = await userCli(['passwd', 'eve', '--db', db], 'eves new password');
      expect(reset.code, reset.stderr).to.equal(0);
      const started = Date.now();
      const resetEnd = await eveStream.ended(1500);
      expect(Date.now() - started).to.be.below(1000);
      expect(resetEnd.code).to.equal(status.UNAUTHENTICATED);
      expect(resetEnd.details).to.contain('operator set a new password');

      await eve.login('eve', 'eves new password');
      const second = eve.converse();
      streams.push(second);
      second.resume();
      await second.until('ready', (s) => s.frames.length > 0);
      const disabled = await userCli(['del', 'eve', '--db', db]);
      expect(disabled.code, disabled.stderr).to.equal(0);
      const delEnd = await second.ended(1500);
      expect(delEnd.code).to.equal(status.UNAUTHENTICATED);
      expect(delEnd.details).to.contain('disabled');

      // Nothing sent to eve afterwards reaches a stream of hers.
      const frankStream = frank.converse();
      streams.push(frankStream);
      frankStream.resume();
      frankStream.send('eve', 'are you still there?', 'after-del');
      await frankStream.until('receipt', (s) => s.receipts.length > 0);
      expect(second.messages.map((m) => m.body)).to.not.include('are you still there?');
      expect(eveStream.messages.map((m) => m.body)).to.not.include('are you still there?');
    });

    it('never takes a password from its arguments, and says where to put it', async () => {
      await server.stop();
      const db = join(makeTempDir(), 'admin.db');
      const result = await userCli(['add', 'erin', '--db', db]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain('TINYCHAT_PASSWORD').and.contain('--password-file');
      server = await startTestServer();
    });
  });
});
