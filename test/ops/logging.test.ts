import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { jsonLogger, lineLogger } from '../../src/log';
import { eventually } from '../support/eventually';
import { WireClient } from '../support/grpc-client';
import { startServerProcess, type ServerProcess } from '../support/server-process';
import { makeTempDir, removeTempDirs } from '../support/test-server';

const OWNER_PASSWORD = 'the owner’s own secret';
const GUESSES = ['guess-number-one', 'guess-number-two', 'guess-number-three'];

describe('the server log', function () {
  this.timeout(30_000);
  let server: ServerProcess | undefined;
  const clients: WireClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server?.stop('SIGKILL');
    server = undefined;
    removeTempDirs();
  });

  /** Registers alice, then makes three wrong guesses from one client: two fail, the third is locked out. */
  async function guessAlicesPassword(format: 'json' | 'text'): Promise<void> {
    server = await startServerProcess({ dbPath: join(makeTempDir(), 'chat.db'), extraArgs: ['--log-format', format, '--login-attempts', '2'] });
    const owner = new WireClient(server.target);
    const guesser = new WireClient(server.target);
    clients.push(owner, guesser);
    await owner.login('alice', OWNER_PASSWORD);
    const codes: number[] = [];
    for (const guess of GUESSES) codes.push(await guesser.login('alice', guess).then(() => status.OK, (err: { code: number }) => err.code));
    expect(codes).to.deep.equal([status.UNAUTHENTICATED, status.UNAUTHENTICATED, status.RESOURCE_EXHAUSTED]);
    await eventually('the lockout in the log', () => server!.log().includes('login-locked-out'));
  }

  function expectNoPasswords(log: string): void {
    for (const password of [OWNER_PASSWORD, ...GUESSES]) expect(log).to.not.include(password);
  }

  it('writes one JSON object per line with time, level and event, and logs failed logins and lockouts with name and address, never the password', async () => {
    await guessAlicesPassword('json');
    const log = server!.log();
    const events = log
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const event of events) {
      expect(event).to.include.keys('time', 'level', 'event');
      expect(new Date(event.time as string).toISOString()).to.equal(event.time);
    }
    const failed = events.filter((e) => e.event === 'login-failed');
    expect(failed).to.have.length(2);
    for (const event of failed) {
      expect(event).to.include({ level: 'warn', user: 'alice', address: '127.0.0.1' });
      expect(event.reason).to.match(/wrong name or password/);
    }
    const locked = events.filter((e) => e.event === 'login-locked-out');
    expect(locked).to.have.length(1);
    expect(locked[0]).to.include({ level: 'warn', user: 'alice', address: '127.0.0.1' });
    expect(locked[0].retry_after_s).to.be.within(1, 60);
    expect(events.find((e) => e.event === 'listening')).to.include({ level: 'info' });
    expectNoPasswords(log);
  });

  it('writes the same events as text lines when asked', async () => {
    await guessAlicesPassword('text');
    const log = server!.log();
    expect(log).to.match(/^\S+Z warn login-failed user=alice address=127\.0\.0\.1 reason="wrong name or password/m);
    expect(log).to.match(/^\S+Z warn login-locked-out user=alice address=127\.0\.0\.1 reason="too many failed logins[^\n]* retry_after_s=\d+$/m);
    expectNoPasswords(log);
  });

  it('drops events below --log-level, in both formats', () => {
    for (const make of [jsonLogger, lineLogger]) {
      const out = new PassThrough();
      const logger = make(out, 'warn');
      logger.info('stream-open', { user: 'alice' });
      logger.warn('login-failed', { user: 'bob' });
      logger.error('store-failed', { error: 'disk' });
      const text = String(out.read());
      expect(text.split('\n').filter((line) => line !== '')).to.have.length(2);
      expect(text).to.include('login-failed').and.include('store-failed').and.not.include('stream-open');
    }
  });
});
