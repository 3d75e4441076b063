import { expect } from 'chai';
import { PaneScroll } from '../../../src/client/tui/pane-scroll';

function rows(...keys: string[]): Array<{ key?: string }> {
  return keys.map((key) => (key === '-' ? {} : { key }));
}

describe('PaneScroll', () => {
  it('follows the newest rows until scrolled back', () => {
    const scroll = new PaneScroll();
    expect(scroll.window('bob', rows('a', 'b', 'c', 'd', 'e'), 3)).to.deep.equal({ start: 2, following: true });
    expect(scroll.window('bob', rows('a', 'b', 'c', 'd', 'e', 'f'), 3)).to.deep.equal({ start: 3, following: true });
  });

  it('keeps the rows shown in place while new rows arrive below and older ones load above', () => {
    const scroll = new PaneScroll();
    scroll.window('bob', rows('c', 'd', 'e', 'f', 'g', 'h'), 3);
    expect(scroll.move('page-up')).to.equal(false);
    expect(scroll.window('bob', rows('c', 'd', 'e', 'f', 'g', 'h'), 3)).to.deep.equal({ start: 1, following: false });
    expect(scroll.window('bob', rows('-', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'), 3)).to.deep.equal({ start: 4, following: false });
  });

  it('says when PageUp or Home reached the top, and returns to following at the bottom', () => {
    const scroll = new PaneScroll();
    const all = rows('a', 'b', 'c', 'd', 'e', 'f', 'g');
    scroll.window('bob', all, 3);
    expect(scroll.move('page-up')).to.equal(false);
    scroll.window('bob', all, 3);
    expect(scroll.move('page-up')).to.equal(true);
    expect(scroll.window('bob', all, 3).start).to.equal(0);
    scroll.move('page-down');
    scroll.window('bob', all, 3);
    scroll.move('page-down');
    expect(scroll.window('bob', all, 3)).to.deep.equal({ start: 4, following: true });
    scroll.move('top');
    scroll.window('bob', all, 3);
    scroll.move('bottom');
    expect(scroll.window('bob', all, 3).following).to.equal(true);
  });

  it('keeps a position per conversation and forgets closed ones', () => {
    const scroll = new PaneScroll();
    const all = rows('a', 'b', 'c', 'd', 'e', 'f');
    scroll.window('bob', all, 2);
    scroll.move('top');
    expect(scroll.window('carol', all, 2).following).to.equal(true);
    expect(scroll.window('bob', all, 2)).to.deep.equal({ start: 0, following: false });
    scroll.keepOnly(new Set(['carol']));
    expect(scroll.window('bob', all, 2).following).to.equal(true);
  });
});
