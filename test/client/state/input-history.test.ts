import { expect } from 'chai';
import { InputHistory } from '../../../src/client/state/input-history';

describe('InputHistory', () => {
  it('walks back through typed lines with Up and forward to the draft with Down', () => {
    const history = new InputHistory();
    history.add('/START bob');
    history.add('hello');
    expect(history.previous('half typed')).to.equal('hello');
    expect(history.previous('ignored')).to.equal('/START bob');
    expect(history.previous('ignored')).to.equal(undefined);
    expect(history.next()).to.equal('hello');
    expect(history.next()).to.equal('half typed');
    expect(history.next()).to.equal(undefined);
  });

  it('skips blank lines and a line repeated right away, and keeps at most its limit', () => {
    const history = new InputHistory(3);
    for (const line of ['a', 'a', '  ', 'b', 'c', 'd']) history.add(line);
    expect(history.entries).to.deep.equal(['b', 'c', 'd']);
  });

  it('starts from the newest line again after a line is submitted', () => {
    const history = new InputHistory();
    history.add('one');
    history.add('two');
    history.previous('');
    history.previous('');
    history.add('three');
    expect(history.previous('')).to.equal('three');
  });

  it('has nothing to offer before anything was typed', () => {
    const history = new InputHistory();
    expect(history.previous('draft')).to.equal(undefined);
    expect(history.next()).to.equal(undefined);
  });
});
