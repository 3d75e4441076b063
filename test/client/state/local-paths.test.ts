import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { Completer } from '../../../src/client/state/completion';
import { localPaths } from '../../../src/client/state/local-paths';
import { makeTempDir, removeTempDirs } from '../../support/temp-dir';

describe('Tab after /SEND completes local paths', function () {
  let dir: string;

  beforeEach(function () {
    dir = makeTempDir();
    mkdirSync(join(dir, 'shots'));
    writeFileSync(join(dir, 'shots', 'sunset.png'), 'x');
    writeFileSync(join(dir, 'build.tar'), 'x');
    writeFileSync(join(dir, 'build.log'), 'x');
    writeFileSync(join(dir, '.hidden'), 'x');
  });

  afterEach(function () {
    removeTempDirs();
  });

  it('lists the entries that start with what was typed, folders with a slash, hidden ones only after a dot', function () {
    expect(localPaths(`${dir}/b`)).to.deep.equal([`${dir}/build.log`, `${dir}/build.tar`]);
    expect(localPaths(`${dir}/`)).to.deep.equal([`${dir}/build.log`, `${dir}/build.tar`, `${dir}/shots/`]);
    expect(localPaths(`${dir}/.h`)).to.deep.equal([`${dir}/.hidden`]);
    expect(localPaths(`${dir}/nowhere/x`)).to.deep.equal([]);
  });

  it('completes /SEND\'s argument into folders without a space, and files with one', function () {
    const completer = new Completer();
    const sources = { commands: ['/SEND'], names: ['bob'], paths: localPaths };
    expect(completer.complete(`/SEND ${dir}/sh`, sources)?.before).to.equal(`/SEND ${dir}/shots/`);
    completer.reset();
    expect(completer.complete(`/SEND ${dir}/shots/s`, sources)?.before).to.equal(`/SEND ${dir}/shots/sunset.png `);
    completer.reset();
    expect(completer.complete('/START b', sources)?.before).to.equal('/START bob ');
  });
});
