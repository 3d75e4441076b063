import { expect } from 'chai';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultConfigDir, SavedSessions, type SavedSession } from '../../src/client/saved-sessions';
import { makeTempDir, removeTempDirs } from '../support/temp-dir';

function session(user: string, server: string, savedAt: number): SavedSession {
  return { server, user, token: `token-of-${user}`, conversations: [{ peer: 'bob', readId: 7 }], current: 'bob', savedAt };
}

describe('the sessions the full-screen client keeps between runs', function () {
  afterEach(() => removeTempDirs());

  it('lives in $XDG_CONFIG_HOME/tinychat, else in ~/.config/tinychat', function () {
    expect(defaultConfigDir({ XDG_CONFIG_HOME: '/srv/conf' })).to.equal('/srv/conf/tinychat');
    expect(defaultConfigDir({})).to.equal(join(homedir(), '.config', 'tinychat'));
    // The XDG rules ignore a relative path.
    expect(defaultConfigDir({ XDG_CONFIG_HOME: 'conf' })).to.equal(join(homedir(), '.config', 'tinychat'));
  });

  it('writes the file mode 0600 in a directory mode 0700, even one that existed more open', function () {
    const dir = join(makeTempDir(), 'tinychat');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const memory = new SavedSessions(dir);
    memory.save(session('alice', '127.0.0.1:1', 1));
    expect(statSync(dir).mode & 0o777).to.equal(0o700);
    expect(statSync(memory.path).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(readFileSync(memory.path, 'utf8')).sessions[0].token).to.equal('token-of-alice');
  });

  it('finds a session by server and name in any case, or the newest for the server without a name, and forgets one', function () {
    const memory = new SavedSessions(join(makeTempDir(), 'tinychat'));
    memory.save(session('alice', 'a:1', 1));
    memory.save(session('Bob', 'a:1', 2));
    memory.save(session('carol', 'b:2', 3));
    expect(memory.find('a:1', 'ALICE')?.token).to.equal('token-of-alice');
    expect(memory.find('a:1')?.user).to.equal('Bob');
    expect(memory.find('c:3')).to.equal(undefined);
    memory.save({ ...session('alice', 'a:1', 4), token: 'newer' });
    expect(memory.find('a:1')?.token).to.equal('newer');
    memory.forget('a:1', 'alice');
    expect(memory.find('a:1', 'alice')).to.equal(undefined);
    expect(memory.find('a:1')?.user).to.equal('Bob');
  });

  it('takes a file that cannot be read as empty, and writes a good one over it', function () {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'sessions.json'), '{"sessions": [{"server": 1}]');
    const memory = new SavedSessions(dir);
    expect(memory.find('a:1')).to.equal(undefined);
    memory.save(session('alice', 'a:1', 1));
    expect(memory.find('a:1')?.user).to.equal('alice');
  });
});
