import { expect } from 'chai';
import { ChatState } from '../../../src/client/state/chat-state';
import { LineEditor } from '../../../src/client/state/line-editor';
import { formatDay } from '../../../src/client/state/local-time';
import { layoutStatus } from '../../../src/client/tui/bars-layout';
import { layoutInput } from '../../../src/client/tui/input-layout';
import { actionFor } from '../../../src/client/tui/keymap';
import { screenGeometry } from '../../../src/client/tui/screen-geometry';
import { layoutSidebar } from '../../../src/client/tui/sidebar-layout';
import { plain } from '../../../src/client/tui/styled-line';
import { textWidth } from '../../../src/client/tui/text-width';
import { makeTheme } from '../../../src/client/tui/theme';
import { layoutTimeline } from '../../../src/client/tui/timeline-layout';
import { stored } from '../state/messages';

const theme = makeTheme(256);

describe('screen layouts', () => {
  it('lays a conversation out with day separators, times, marks and wrapped text under itself', () => {
    const state = new ChatState('alice', 'x');
    const bob = state.open('bob', true);
    bob.merge(
      [
        stored(1, 'bob', 'alice', 'evening', new Date(2024, 4, 13, 22, 5)),
        stored(2, 'alice', 'bob', 'morning bob, the build is green again and the release can go out', new Date(2024, 4, 14, 9, 7)),
      ],
      (m) => m.sender === 'alice',
      false,
    );
    bob.addPending({ clientId: 'c', sender: 'alice', receiver: 'bob', body: 'shipping' }, new Date(2024, 4, 14, 9, 8));
    const rows = layoutTimeline(bob, { width: 50, me: 'alice', theme }).map((row) => plain(row.line));
    expect(rows[0]).to.equal('  this is the start of your conversation with bob');
    expect(rows[1]).to.include(` ${formatDay(new Date(2024, 4, 13))} `).and.match(/^─+ .* ─+$/);
    expect(rows[2]).to.equal('22:05   bob    evening');
    expect(rows[3]).to.include(formatDay(new Date(2024, 4, 14)));
    expect(rows[4]).to.equal('09:07 ✓ alice  morning bob, the build is green');
    expect(rows[5]).to.equal('               again and the release can go out');
    expect(rows[6]).to.equal('09:08 … alice  shipping');
    for (const row of rows) expect(textWidth(row)).to.be.at.most(50);
  });

  it('shows seconds in times when asked, and an action as "* name action"', () => {
    const state = new ChatState('alice', 'x');
    const bob = state.open('bob', true);
    bob.merge([stored(1, 'bob', 'alice', 'waves from the station', new Date(2024, 4, 14, 9, 7, 42))], () => false, false);
    bob.entries().forEach((entry) => entry.kind === 'message' && (entry.action = true));
    bob.addPending({ clientId: 'c', sender: 'alice', receiver: 'bob', body: 'waves back', action: true }, new Date(2024, 4, 14, 9, 8, 5));
    const rows = layoutTimeline(bob, { width: 50, me: 'alice', theme, seconds: true }).map((row) => plain(row.line));
    expect(rows[2]).to.equal('09:07:42          * bob waves from the station');
    expect(rows[3]).to.equal('09:08:05 …        * alice waves back');
    expect(plain(layoutTimeline(bob, { width: 50, me: 'alice', theme }).map((row) => row.line)[2])).to.equal('09:07          * bob waves from the station');
  });

  it('wraps a long line in the input area, growing it up to five rows and then showing the rows up to the cursor', () => {
    const editor = new LineEditor('x'.repeat(100));
    const area = layoutInput(editor, { prompt: 'bob › ', placeholder: '', width: 40, theme });
    expect(area.rows.map(plain)).to.deep.equal(['bob › ' + 'x'.repeat(33), ' '.repeat(6) + 'x'.repeat(33), ' '.repeat(6) + 'x'.repeat(33), ' '.repeat(6) + 'x']);
    expect(area.cursor).to.deep.equal({ row: 3, col: 7 });
    editor.home();
    expect(layoutInput(editor, { prompt: 'bob › ', placeholder: '', width: 40, theme }).cursor).to.deep.equal({ row: 0, col: 6 });
    editor.set('x'.repeat(400));
    const tall = layoutInput(editor, { prompt: 'bob › ', placeholder: '', width: 40, theme });
    expect(tall.rows).to.have.length(5);
    expect(tall.cursor.row).to.equal(4);
    for (const row of tall.rows) expect(textWidth(plain(row))).to.be.at.most(40);
  });

  it('gives each line of a multi-line text its own row, the cursor on the line it is in', () => {
    const editor = new LineEditor('first line\nsecond\n\nlast');
    const area = layoutInput(editor, { prompt: '› ', placeholder: '', width: 40, theme });
    expect(area.rows.map(plain)).to.deep.equal(['› first line', '  second', '  ', '  last']);
    expect(area.cursor).to.deep.equal({ row: 3, col: 6 });
    editor.set('one\ntwo\nthree\nfour\nfive\nsix\nseven', 'one\ntwo');
    const scrolled = layoutInput(editor, { prompt: '› ', placeholder: '', width: 40, theme, maxRows: 3 });
    expect(scrolled.rows.map(plain)).to.deep.equal(['› one', '  two', '  three']);
    expect(scrolled.cursor).to.deep.equal({ row: 1, col: 5 });
  });

  it('shows the placeholder while nothing is typed', () => {
    expect(plain(layoutInput(new LineEditor(), { prompt: '› ', placeholder: 'type /START <name>', width: 40, theme }).rows[0])).to.equal('› type /START <name>');
  });

  it('makes room for a taller input area, keeping the conversation at least four rows', () => {
    expect(screenGeometry(80, 24, 3).input).to.deep.equal({ left: 0, top: 20, width: 80, height: 3 });
    expect(screenGeometry(80, 24, 3).pane.height).to.equal(18);
    expect(screenGeometry(80, 10, 5).input.height).to.equal(3);
  });

  it('lists conversations with numbers and unread counts, then people, online first', () => {
    const state = new ChatState('alice', 'x');
    state.setPeople([
      { name: 'alice', online: true },
      { name: 'bob', online: false },
      { name: 'carol', online: true },
    ]);
    state.open('bob', true);
    state.receive(stored(1, 'carol', 'alice', 'hi'));
    const rows = layoutSidebar(state, 20, 10, theme).map(plain);
    expect(rows.slice(0, 3).map((r) => r.trimEnd())).to.deep.equal([' Conversations', ' 1 ○ bob', ' 2 ● carol        1']);
    expect(rows.slice(4).map((r) => r.trimEnd())).to.deep.equal([' People 2/3 online', ' ● alice (you)', ' ● carol', ' ○ bob']);
  });

  it('says when /USERS counted the people once not all of them are shown (and so not all are watched)', () => {
    const state = new ChatState('alice', 'x');
    state.setPeople(
      ['alice', 'bob', 'carol', 'dave'].map((name) => ({ name, online: name !== 'dave' })),
      new Date(2026, 0, 2, 14, 5),
    );
    const rows = layoutSidebar(state, 28, 7, theme).map((r) => plain(r).trimEnd());
    expect(rows.slice(3)).to.deep.equal([' People 3/4 online at 14:05', ' ● alice (you)', ' ● bob', ' +2 more — /USERS']);
  });

  it('says in the status bar how the connection is and how many sends wait', () => {
    const state = new ChatState('alice', '127.0.0.1:50051');
    state.open('bob', true);
    state.sending('bob', 'c', 'hi', new Date());
    state.connection({ state: 'reconnecting', reconnect: true, delayMs: 2000 }, 0);
    const bar = plain(layoutStatus(state, 80, theme, 0));
    expect(bar).to.match(/^ ○ reconnecting in 2 s · 1 waiting {2}alice @ 127\.0\.0\.1:50051 │ bob +F1 help $/);
    expect(textWidth(bar)).to.equal(80);
  });

  it('names the server node in the status bar when it says more than the address, and follows a failover', () => {
    const state = new ChatState('alice', 'a:1,b:2');
    state.connection({ state: 'connected', reconnect: false, server: 'a:1', node: 'n1' }, 0);
    expect(plain(layoutStatus(state, 80, theme, 0))).to.match(/^ ● connected {2}alice @ n1 \(a:1\) +F1 help $/);
    state.connection({ state: 'reconnecting', reconnect: true, delayMs: 0, server: 'b:2' }, 0);
    state.connection({ state: 'connected', reconnect: true, server: 'b:2', node: 'b:2' }, 0);
    expect(plain(layoutStatus(state, 80, theme, 0))).to.match(/^ ● connected {2}alice @ b:2 +F1 help $/);
  });

  it('gives narrow terminals the whole width for the conversation', () => {
    expect(screenGeometry(80, 24).sidebar).to.deep.equal({ left: 0, top: 0, width: 19, height: 21 });
    expect(screenGeometry(80, 24).pane).to.deep.equal({ left: 20, top: 1, width: 60, height: 20 });
    expect(screenGeometry(50, 20).sidebar).to.equal(undefined);
    expect(screenGeometry(50, 20).input).to.deep.equal({ left: 0, top: 18, width: 50, height: 1 });
  });

  it('maps keys to actions: Tab and Home/End depend on whether the line is empty', () => {
    expect(actionFor('\t', { name: 'tab', full: 'tab' }, { inputEmpty: true })).to.deep.equal({ type: 'cycle', delta: 1 });
    expect(actionFor('\t', { name: 'tab', full: 'tab' }, { inputEmpty: false })).to.deep.equal({ type: 'complete', backwards: false });
    expect(actionFor(undefined, { name: 'home', full: 'home' }, { inputEmpty: true })).to.deep.equal({ type: 'scroll', to: 'top' });
    expect(actionFor(undefined, { name: 'home', full: 'home' }, { inputEmpty: false })).to.deep.equal({ type: 'edit', op: 'home' });
    expect(actionFor('3', { name: '3', full: 'M-3', meta: true }, { inputEmpty: true })).to.deep.equal({ type: 'go', index: 2 });
    expect(actionFor('\r', { name: 'enter', full: 'enter' }, { inputEmpty: true })).to.deep.equal({ type: 'none' });
    expect(actionFor('\r', { name: 'return', full: 'return' }, { inputEmpty: true })).to.deep.equal({ type: 'submit' });
    expect(actionFor('中', { full: '中' }, { inputEmpty: true })).to.deep.equal({ type: 'insert', text: '中' });
    expect(actionFor('\u0003', { name: 'c', full: 'C-c', ctrl: true }, { inputEmpty: true })).to.deep.equal({ type: 'quit' });
  });
});
