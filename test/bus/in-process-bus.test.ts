import { expect } from 'chai';
import type { Bus, BusOptions } from '../../src/bus/bus';
import { InProcessBus, InProcessHub } from '../../src/bus/in-process-bus';
import { busContract, type BusFixture } from '../contract/bus-contract';

busContract('in-process (buses sharing one hub are nodes)', async (): Promise<BusFixture> => {
  const hub = new InProcessHub();
  const namespace = `tinychat-test-${process.pid}-${Date.now()}`;
  const opened: Bus[] = [];
  return {
    open: async (options: BusOptions) => {
      const bus = new InProcessBus({ namespace, ...options, hub });
      opened.push(bus);
      return bus;
    },
    cleanup: async () => {
      for (const bus of opened) await bus.close();
    },
  };
});

describe('InProcessBus', function () {
  it('describes itself as in-process and resolves flush at once', async function () {
    const bus = new InProcessBus();
    expect(bus.description).to.equal('in-process');
    await bus.flush();
    await bus.close();
  });

  it('delivers only to buses that share its hub', async function () {
    const hub = new InProcessHub();
    const [a, b, loner] = [new InProcessBus({ hub }), new InProcessBus({ hub }), new InProcessBus()];
    const seen: string[] = [];
    b.subscribe('t', () => seen.push('b'));
    loner.subscribe('t', () => seen.push('loner'));
    a.publish('t', {});
    loner.publish('t', {});
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.sort()).to.deep.equal(['b', 'loner']);
    for (const bus of [a, b, loner]) await bus.close();
  });

  it('refuses an invalid namespace with a TypeError', function () {
    expect(() => new InProcessBus({ namespace: 'tiny chat' })).to.throw(TypeError, /invalid bus namespace/);
  });
});
