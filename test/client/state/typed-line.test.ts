import { expect } from 'chai';
import { readTypedLine } from '../../../src/client/state/typed-line';

describe('readTypedLine', () => {
  it('reads commands case-insensitively with their arguments', () => {
    expect(readTypedLine('/start   bob ')).to.deep.equal({ kind: 'command', name: 'START', args: ['bob'], line: '/start   bob' });
  });

  it('reads // as a message that starts with a slash, and anything else (even "  /x") as typed', () => {
    expect(readTypedLine('//shrug')).to.deep.equal({ kind: 'message', body: '/shrug' });
    expect(readTypedLine('  indented text ')).to.deep.equal({ kind: 'message', body: '  indented text ' });
    expect(readTypedLine(' /not a command')).to.deep.equal({ kind: 'message', body: ' /not a command' });
  });

  it('reads a blank line as nothing', () => {
    expect(readTypedLine('   ')).to.deep.equal({ kind: 'empty' });
  });
});
