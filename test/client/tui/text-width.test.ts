import { expect } from 'chai';
import { graphemeWidth, padTo, textWidth, truncate, wrapText } from '../../../src/client/tui/text-width';

describe('text width', () => {
  it('counts CJK and emoji two columns, combining marks and joiners none, the rest one', () => {
    expect(textWidth('abc')).to.equal(3);
    expect(textWidth('中文')).to.equal(4);
    expect(textWidth('✅😀')).to.equal(4);
    expect(textWidth('e\u0301')).to.equal(1);
    expect(graphemeWidth('\u200d')).to.equal(0);
    expect(graphemeWidth('\ufe0f')).to.equal(0);
    expect(textWidth('✓…─')).to.equal(3);
  });

  it('measures each emoji as two columns, whatever code points it is made of: skin tones, ZWJ families, flags, the emoji selector', () => {
    for (const emoji of ['👍🏽', '👨‍👩‍👧', '🇯🇵', '☺️', '#️⃣', '🏴‍☠️']) expect(textWidth(emoji), emoji).to.equal(2);
    expect(textWidth('a👍🏽b👨‍👩‍👧c🇯🇵d')).to.equal(10);
    expect(truncate('👍🏽👨‍👩‍👧🇯🇵', 5)).to.equal('👍🏽👨‍👩‍👧…');
    expect(wrapText('👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧', 4)).to.deep.equal(['👨‍👩‍👧👨‍👩‍👧', '👨‍👩‍👧']);
    expect(padTo('🇯🇵', 4)).to.equal('🇯🇵  ');
  });

  it('cuts and pads by columns, never through a wide character', () => {
    expect(truncate('中文字', 5)).to.equal('中文…');
    expect(truncate('short', 10)).to.equal('short');
    expect(padTo('中', 4)).to.equal('中  ');
    expect(textWidth(padTo('abcdefgh', 4))).to.equal(4);
  });

  it('wraps at spaces by columns, and inside a word only when the word alone is too long', () => {
    expect(wrapText('the build is green again', 10)).to.deep.equal(['the build', 'is green', 'again']);
    expect(wrapText('中文中文中文', 5)).to.deep.equal(['中文', '中文', '中文']);
    expect(wrapText('abcdefghij', 4)).to.deep.equal(['abcd', 'efgh', 'ij']);
    expect(wrapText('', 10)).to.deep.equal(['']);
    for (const line of wrapText('ping 中文 ✅ 😀 end and more 中文中文中文 ✅✅✅ words', 12)) {
      expect(textWidth(line)).to.be.at.most(12);
    }
  });
});
