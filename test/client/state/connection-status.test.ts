import { expect } from 'chai';
import { ConnectionStatus } from '../../../src/client/state/connection-status';

describe('ConnectionStatus', () => {
  it('says connecting, then connected', () => {
    const status = new ConnectionStatus();
    status.update({ state: 'connecting', reconnect: false }, 0);
    expect(status.describe(0)).to.deep.equal({ tone: 'busy', text: 'connecting…' });
    status.update({ state: 'connected', reconnect: false }, 10);
    expect(status.describe(10)).to.deep.equal({ tone: 'ok', text: 'connected' });
    expect(status.nextChangeIn(10)).to.equal(undefined);
  });

  it('counts down the seconds to the next attempt and keeps the reason until connected again', () => {
    const status = new ConnectionStatus();
    status.update({ state: 'reconnecting', reconnect: true, delayMs: 3500, reason: 'cannot reach x' }, 1000);
    expect(status.describe(1000).text).to.equal('reconnecting in 4 s');
    expect(status.describe(2600).text).to.equal('reconnecting in 2 s');
    expect(status.describe(9000).text).to.equal('reconnecting in 1 s');
    expect(status.nextChangeIn(1000)).to.equal(500);
    expect(status.reason).to.equal('cannot reach x');
    status.update({ state: 'connecting', reconnect: true }, 4500);
    expect(status.describe(4500)).to.deep.equal({ tone: 'down', text: 'reconnecting…' });
    expect(status.reason).to.equal('cannot reach x');
    status.update({ state: 'connected', reconnect: true }, 4600);
    expect(status.reason).to.equal(undefined);
  });

  it('says offline once the connection is closed for good', () => {
    const status = new ConnectionStatus();
    status.update({ state: 'closed', reconnect: false }, 0);
    expect(status.describe(0)).to.deep.equal({ tone: 'down', text: 'offline' });
  });
});
