import { expect } from 'chai';
import { Completer } from '../../../src/client/state/completion';

const sources = { commands: ['/START', '/STOP', '/USERS', '/TIME'], names: ['bob', 'Bea', 'carol', 'bob'] };

describe('Completer', () => {
  it('completes a command at the start of the line, keeping lower case when typed so', () => {
    const completer = new Completer();
    expect(completer.complete('/us', sources)?.before).to.equal('/users ');
    completer.reset();
    expect(completer.complete('/U', sources)?.before).to.equal('/USERS ');
  });

  it('cycles through several candidates with each Tab, and back with Shift-Tab', () => {
    const completer = new Completer();
    const first = completer.complete('/ST', sources)!;
    expect(first.candidates).to.deep.equal(['/START', '/STOP']);
    expect(first.before).to.equal('/START ');
    expect(completer.complete(first.before, sources)?.before).to.equal('/STOP ');
    expect(completer.complete('/STOP ', sources)?.before).to.equal('/START ');
    expect(completer.complete('/START ', sources, true)?.before).to.equal('/STOP ');
  });

  it('completes user names case-insensitively anywhere else, each name once', () => {
    const completer = new Completer();
    const done = completer.complete('/START B', sources)!;
    expect(done.candidates).to.deep.equal(['Bea', 'bob']);
    expect(done.before).to.equal('/START Bea ');
    completer.reset();
    expect(completer.complete('thanks car', sources)?.before).to.equal('thanks carol ');
  });

  it('offers every name after /START and /HISTORY, and nothing for an empty word elsewhere', () => {
    const completer = new Completer();
    expect(completer.complete('/history ', sources)?.candidates).to.deep.equal(['Bea', 'bob', 'carol']);
    completer.reset();
    expect(completer.complete('hello ', sources)).to.equal(undefined);
    expect(completer.complete('/nothing', sources)).to.equal(undefined);
    expect(completer.complete('zed', sources)).to.equal(undefined);
  });

  it('starts afresh after the text changed by other keys', () => {
    const completer = new Completer();
    completer.complete('/ST', sources);
    expect(completer.complete('/START c', sources)?.before).to.equal('/START carol ');
  });
});
