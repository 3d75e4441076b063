import { expect } from 'chai';
import { join } from 'node:path';
import { Accounts } from '../../src/chat/accounts';
import { isChatError } from '../../src/chat/errors';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite-store';
import { makeTempDir, removeTempDirs } from '../support/test-server';

const OWNER = '203.0.113.7';
const STRANGER = '198.51.100.9';
const PASSWORD = 'the owners password';

/** Logs in, resolving with how it went: 'ok', 'wrong' (bad password) or 'held' (throttled). */
async function attempt(accounts: Accounts, password: string, address: string | undefined): Promise<'ok' | 'wrong' | 'held'> {
  try {
    await accounts.login('alice', password, address);
    return 'ok';
  } catch (err) {
    if (isChatError(err, 'resource-exhausted')) return 'held';
    if (isChatError(err, 'unauthenticated')) return 'wrong';
    throw err;
  }
}

describe('the login throttle, on accounts in a real SQLite store', function () {
  let store: SqliteStore;
  let accounts: Accounts;
  let now: number;

  beforeEach(async function () {
    store = openSqliteStore(join(makeTempDir(), 'chat.db'));
    now = 1_800_000_000_000;
    accounts = new Accounts(store, { passwordCost: 10, clock: () => now, loginLimits: { perName: 5, perAddress: 20, windowMs: 60_000 } });
    expect(await attempt(accounts, PASSWORD, OWNER)).to.equal('ok');
  });

  afterEach(async function () {
    await store.close();
    removeTempDirs();
  });

  it('holds off a stranger after five wrong guesses, while the owner keeps logging in from their address', async function () {
    const stranger: string[] = [];
    for (let i = 0; i < 5; i++) stranger.push(await attempt(accounts, `guess ${i}`, STRANGER));
    expect(stranger).to.deep.equal(['wrong', 'wrong', 'wrong', 'wrong', 'wrong']);
    // Held, even with the right password: the stranger learns nothing more this window.
    expect(await attempt(accounts, PASSWORD, STRANGER)).to.equal('held');
    for (let round = 0; round < 10; round++) {
      expect(await attempt(accounts, `guess again ${round}`, STRANGER)).to.equal('held');
      expect(await attempt(accounts, PASSWORD, OWNER)).to.equal('ok');
    }
    now += 60_000;
    expect(await attempt(accounts, 'after the window', STRANGER)).to.equal('wrong');
  });

  it('gives guesses spread over many addresses one try each once the name is under attack', async function () {
    const outcomes: string[] = [];
    for (let bot = 0; bot < 12; bot++) {
      const address = `192.0.2.${bot}`;
      outcomes.push(`${await attempt(accounts, `bot ${bot} first`, address)}/${await attempt(accounts, `bot ${bot} second`, address)}`);
    }
    // The first two addresses take two guesses each; the fifth failure (the third address's
    // first) marks the name, and from then on every address is held after one guess.
    expect(outcomes).to.deep.equal(['wrong/wrong', 'wrong/wrong', ...Array(10).fill('wrong/held')]);
    // The owner, at an address with no failures, still gets in.
    expect(await attempt(accounts, PASSWORD, OWNER)).to.equal('ok');
  });

  it('holds an address that fails for many names, whatever the name', async function () {
    await store.registerUser('bob', now);
    for (let i = 0; i < 20; i++) {
      await accounts.login(i % 2 ? 'alice' : 'bob', `wrong ${i}`, STRANGER).catch(() => undefined);
    }
    expect(await attempt(accounts, PASSWORD, STRANGER)).to.equal('held');
    expect(await attempt(accounts, PASSWORD, OWNER)).to.equal('ok');
  });

  it('says how long to wait in whole seconds, rounded up, and in milliseconds for programs', async function () {
    for (let i = 0; i < 5; i++) await attempt(accounts, `guess ${i}`, STRANGER);
    now += 59_950;
    const err = await accounts.login('alice', PASSWORD, STRANGER).then(
      () => expect.fail('expected a refusal'),
      (e: unknown) => e,
    );
    if (!isChatError(err, 'resource-exhausted')) throw err;
    expect(err.message).to.match(/try again in 1 s$/);
    expect(err.retryAfterMs).to.equal(50);
  });
});
