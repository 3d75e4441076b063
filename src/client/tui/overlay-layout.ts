import { nameKey } from '../../chat/names';
import type { CommandHelp, Message } from '../../gen/tinychat/v1/chat';
import { printable } from '../format';
import type { Person } from '../state/roster';
import { formatWhen } from '../state/local-time';
import { KEY_BINDINGS } from './keymap';
import { seg, type StyledLine } from './styled-line';
import { padTo, truncate, wrapText } from './text-width';
import type { Theme } from './theme';

/** A box's title and rows. */
export interface OverlayContent {
  title: string;
  rows: StyledLine[];
}

/** Two columns; a left cell too long for its column gets a row of its own. */
function table(pairs: ReadonlyArray<readonly [string, string]>, width: number, theme: Theme, widest = 20): StyledLine[] {
  const column = Math.min(Math.max(...pairs.map(([left]) => left.length)), widest, Math.floor(width / 2)) + 2;
  return pairs.flatMap(([left, right]) => {
    const own: StyledLine[] = left.length + 2 > column ? [[seg(left, theme.title)]] : [];
    const rows = wrapText(right, width - column).map((text, i): StyledLine => [
      seg(i === 0 && own.length === 0 ? padTo(left, column) : ' '.repeat(column), theme.title),
      seg(text),
    ]);
    return [...own, ...rows];
  });
}

/** Every command (from the server's list) and every key, in `width` columns. */
export function layoutHelp(commands: readonly CommandHelp[], width: number, theme: Theme): OverlayContent {
  const usage = commands.map((command) => [`${command.name} ${command.usage}`.trim(), command.summary] as const);
  return {
    title: ' Help — Esc closes ',
    rows: [
      [seg('Commands', theme.own)],
      ...table(usage, width, theme),
      [],
      [seg('Keys', theme.own)],
      ...table(
        KEY_BINDINGS.map((binding) => [binding.keys, binding.what] as const),
        width,
        theme,
      ),
    ],
  };
}

/** The /USERS answer as a table: name, online or offline, last seen in local time. */
export function layoutUsers(people: readonly Person[], me: string, now: Date, theme: Theme): OverlayContent {
  const nameWidth = Math.min(24, Math.max(4, ...people.map((person) => person.name.length + (nameKey(person.name) === nameKey(me) ? 6 : 0))));
  const online = people.filter((person) => person.online).length;
  const rows: StyledLine[] = [[seg(padTo('NAME', nameWidth + 2), theme.title), seg(padTo('STATUS', 11), theme.title), seg('LAST SEEN', theme.title)]];
  for (const person of people) {
    const you = nameKey(person.name) === nameKey(me) ? ' (you)' : '';
    rows.push([
      seg(padTo(person.name + you, nameWidth + 2)),
      person.online ? seg(padTo('● online', 11), theme.online) : seg(padTo('○ offline', 11), theme.offline),
      seg(person.online ? 'now' : person.lastSeen ? formatWhen(person.lastSeen, now) : '—', person.online ? undefined : theme.quiet),
    ]);
  }
  if (people.length === 0) rows.push([seg('nobody yet', theme.quiet)]);
  return { title: ` Users — ${online} of ${people.length} online — Esc closes `, rows };
}

/**
 * /SEARCH's hits, one row each, newest first: when, with whom, who wrote
 * it and the start of the text; the selected one stands out.
 */
export function layoutSearch(
  search: { words: string[]; hits: readonly Message[]; hasMore: boolean; selected: number },
  me: string,
  now: Date,
  width: number,
  theme: Theme,
): OverlayContent {
  const rows = search.hits.map((hit, i): StyledLine => {
    const peer = nameKey(hit.sender) === nameKey(me) ? hit.receiver : hit.sender;
    const time = hit.time ? formatWhen(hit.time, now) : '';
    const head = `${i === search.selected ? '›' : ' '} ${padTo(peer, 12)} ${time}  ${hit.sender}: `;
    const body = printable(hit.body.replace(/\s+/g, ' '));
    const style = i === search.selected ? theme.title : undefined;
    return [seg(truncate(head + body, width), style)];
  });
  if (search.hasMore) rows.push([seg('more matched: add words to narrow the search', theme.quiet)]);
  return { title: ` Search: ${search.words.join(' ')} — Up, Down, Enter opens, Esc closes `, rows };
}
