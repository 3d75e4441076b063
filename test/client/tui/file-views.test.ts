import { expect } from 'chai';
import { halfBlockRows } from '../../../src/client/tui/half-blocks';
import { plain } from '../../../src/client/tui/styled-line';
import { makeTheme } from '../../../src/client/tui/theme';
import { layoutTransfer } from '../../../src/client/tui/transfer-layout';

describe('file views of the full-screen client', function () {
  it('draws two pixels per cell with the upper half block: upper in the foreground, lower in the background, black below an odd last row', function () {
    const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 16, 32, 48, 1, 2, 3]);
    const rows = halfBlockRows({ width: 2, height: 3, rgb });
    expect(rows.map(plain)).to.deep.equal(['▀▀', '▀▀']);
    expect(rows[0].map((s) => s.style)).to.deep.equal([
      { fg: '#ff0000', bg: '#0000ff' },
      { fg: '#00ff00', bg: '#ffffff' },
    ]);
    expect(rows[1].map((s) => s.style)).to.deep.equal([
      { fg: '#102030', bg: '#000000' },
      { fg: '#010203', bg: '#000000' },
    ]);
  });

  it('shows a transfer as direction, name, a bar filled to its share, bytes, rate and time left, in the width given', function () {
    const theme = makeTheme(256);
    const line = layoutTransfer(
      [
        { direction: 'up', name: 'build.tar', progress: { done: 42 * 1024 * 1024, total: 100 * 1024 * 1024, moved: 40 * 1024 * 1024 }, startedAt: 0 },
        { direction: 'down', name: 'other', progress: { done: 0, total: 1, moved: 0 }, startedAt: 0 },
      ],
      100,
      theme,
      2000,
    );
    const text = plain(line);
    expect(text).to.have.length(100);
    expect(text).to.match(/^ ↑ build\.tar █{8}░{12} 42% 42\.0 MiB of 100 MiB, 20\.0 MiB\/s, 0:03 left \(\+1 more\) +$/);
  });
});
