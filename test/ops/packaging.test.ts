import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, removeTempDirs } from '../support/test-server';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');
const UNIT = join(ROOT, 'deploy', 'tinychat.service');

describe('packaging', function () {
  this.timeout(120_000);
  let prefix: string;

  before(async () => {
    prefix = makeTempDir('tinychat-prefix-');
    // A global install from the checkout, into a private prefix (offline: it links the built folder).
    await run('npm', ['install', '-g', ROOT, '--prefix', prefix, '--offline', '--no-audit', '--no-fund'], { cwd: prefix });
  });

  after(() => removeTempDirs());

  it('`npm install -g .` gives a working tinychat command', async () => {
    const { stdout } = await run(join(prefix, 'bin', 'tinychat'), ['--help']);
    expect(stdout).to.match(/serve/).and.match(/backup/).and.match(/restore/);
    const serve = await run(join(prefix, 'bin', 'tinychat'), ['serve', '--help']);
    expect(serve.stdout).to.include('--metrics-address').and.include('--retention-days');
  });

  it('ships a systemd unit that systemd accepts, hardened, with its database in its state directory', async () => {
    const unit = readFileSync(UNIT, 'utf8');
    for (const option of ['DynamicUser=yes', 'StateDirectory=tinychat', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'ProtectHome=yes', 'PrivateTmp=yes']) {
      expect(unit).to.match(new RegExp(`^${option}$`, 'm'));
    }
    expect(unit).to.match(/^ExecStart=\/usr\/local\/bin\/tinychat serve --db \/var\/lib\/tinychat\/\S+ /m);
    // Checked against the command just installed (the unit names its usual place).
    const copy = join(makeTempDir(), 'tinychat.service');
    writeFileSync(copy, unit.replace('/usr/local/bin/tinychat', join(prefix, 'bin', 'tinychat')));
    const { stderr } = await run('systemd-analyze', ['verify', copy]);
    expect(stderr, 'warnings from systemd-analyze').to.equal('');
  });
});
