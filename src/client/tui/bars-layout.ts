import type { ChatState } from '../state/chat-state';
import { formatWhen } from '../state/local-time';
import { seg, spread, type Style, type StyledLine } from './styled-line';
import type { Theme } from './theme';

/**
 * The row above the conversation: whose conversation it is and their
 * presence, and on the right a hint when the view is scrolled back. Without
 * a sidebar (`tabs`), it also says which conversation of how many this is
 * and how many messages are unread in the others.
 */
export function layoutHeader(state: ChatState, width: number, theme: Theme, scrolledBack: boolean, now: Date, tabs = false): StyledLine {
  const conversation = state.current;
  const right: StyledLine = scrolledBack ? [seg(' ↓ newer below: End ', theme.badge)] : [];
  if (tabs && state.conversations.length > 0) {
    const at = conversation ? state.conversations.indexOf(conversation) + 1 : 0;
    const unread = state.conversations.reduce((sum, other) => sum + other.unread, 0);
    right.unshift(seg(` ${at}/${state.conversations.length} `, theme.quiet));
    if (unread > 0) right.unshift(seg(` ${unread} unread `, theme.badge));
  }
  if (!conversation) return spread([seg(' TinyChat', theme.title), seg(` — ${state.conversations.length} open`, theme.quiet)], right, width);
  const person = state.roster.get(conversation.peer);
  const presence: StyledLine = person?.online
    ? [seg('● online', theme.online)]
    : [seg(`○ offline${person?.lastSeen ? `, last seen ${formatWhen(person.lastSeen, now)}` : ''}`, theme.offline)];
  return spread([seg(` ${conversation.peer}`, theme.title), seg('  '), ...presence], right, width);
}

/**
 * The status bar: connection state (coloured by tone, with the number of
 * sends waiting while not connected), user @ node (address), the conversation shown,
 * and the help key on the right.
 */
export function layoutStatus(state: ChatState, width: number, theme: Theme, now: number): StyledLine {
  const status = state.status.describe(now);
  const tone: Style = status.tone === 'ok' ? theme.barOk : status.tone === 'busy' ? theme.barBusy : theme.barDown;
  const waiting = state.pendingCount;
  const stateText = waiting > 0 && status.tone !== 'ok' ? `${status.text} · ${waiting} waiting` : status.text;
  const dot = status.tone === 'ok' ? '●' : '○';
  // The node's name, when it says more than the address does (several nodes serve one chat).
  const where = state.node && state.node !== state.server ? `${state.node} (${state.server})` : state.server;
  const left: StyledLine = [seg(` ${dot} ${stateText} `, tone), seg(` ${state.me} @ ${where}`, theme.bar)];
  if (state.current) left.push(seg(' │ ', theme.bar), seg(state.current.peer, { ...theme.bar, bold: true }));
  return spread(left, [seg(' F1 help ', theme.bar)], width, theme.bar);
}
