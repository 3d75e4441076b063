import { nameKey } from '../../chat/names';
import type { ChatState } from '../state/chat-state';
import { fit, seg, spread, type StyledLine } from './styled-line';
import { formatHourMinute } from '../state/local-time';
import type { Theme } from './theme';

/**
 * The sidebar, `height` rows of `width` columns: the open conversations
 * and rooms (number for Alt-1…9, presence dot for a person, unread count,
 * and in a room the messages that mention the reader as `@N`; the one shown
 * highlighted), then the people with online/offline dots, online first.
 * When the people do not fit, the last row says how many are left out.
 * The rows shown are the ones the client watches (ChatState.peopleShown),
 * so their dots are live; the "X/Y online" count covers people it does not
 * watch too, so then it says when /USERS counted them.
 */
export function layoutSidebar(state: ChatState, width: number, height: number, theme: Theme): StyledLine[] {
  const rows: StyledLine[] = [];
  const inner = width - 1;
  const row = (line: StyledLine, fill?: Parameters<typeof fit>[2]) => rows.push([seg(' ', fill), ...fit(line, inner, fill)]);

  row([seg('Conversations', theme.title)]);
  const current = state.current;
  if (state.conversations.length === 0) row([seg('none yet', theme.quiet)]);
  state.conversations.forEach((conversation, i) => {
    const selected = conversation === current;
    const person = state.roster.get(conversation.peer);
    const room = conversation.peer.startsWith('#');
    const dot = room ? seg(' ') : person?.online ? seg('●', selected ? undefined : theme.online) : seg('○', selected ? undefined : theme.offline);
    const number = i < 9 ? `${i + 1}` : ' ';
    const left: StyledLine = [seg(`${number} `), dot, seg(` ${conversation.peer}`)];
    const count = (n: number) => (n > 99 ? '99+' : `${n}`);
    const right: StyledLine = [
      ...(conversation.mentions > 0 ? [seg(` @${count(conversation.mentions)} `, theme.mention)] : []),
      ...(conversation.unread > 0 ? [seg(` ${count(conversation.unread)} `, theme.badge)] : []),
    ];
    const line = [seg(' '), ...spread(left, right, inner)];
    rows.push(selected ? line.map((part) => ({ ...part, style: { ...theme.selected, ...part.style } })) : line);
  });
  rows.push([]);

  const { people: shownPeople, all } = state.peopleShown(height);
  const listedAt = state.roster.listedAt;
  const asOf = shownPeople.length < all && listedAt ? ` at ${formatHourMinute(listedAt)}` : '';
  row([seg('People', theme.title), seg(` ${state.roster.onlineCount}/${all} online${asOf}`, theme.quiet)]);
  const room = height - rows.length;
  const shown = Math.min(shownPeople.length, all > room ? Math.max(0, room - 1) : all);
  for (const person of shownPeople.slice(0, shown)) {
    const you = nameKey(person.name) === nameKey(state.me);
    row([
      person.online ? seg('●', theme.online) : seg('○', theme.offline),
      seg(` ${person.name}`, person.online ? undefined : theme.offline),
      ...(you ? [seg(' (you)', theme.quiet)] : []),
    ]);
  }
  if (shown < all && room > 0) row([seg(`+${all - shown} more — /USERS`, theme.quiet)]);
  return rows.slice(0, height);
}
