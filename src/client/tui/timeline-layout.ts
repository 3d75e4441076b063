import type { ChatMessage, Conversation, TimelineEntry } from '../state/conversation';
import { formatDay, formatHourMinute, sameDay } from '../state/local-time';
import { fileText, formatClock, printable } from '../format';
import { centred, seg, type StyledLine } from './styled-line';
import { padTo, textWidth, truncate, wrapText } from './text-width';
import type { Theme } from './theme';

/** One row of the conversation pane; `key` names the timeline entry it belongs to. */
export interface PaneLine {
  line: StyledLine;
  key?: string;
}

/** What the layout needs besides the conversation. */
export interface TimelineLayoutOptions {
  width: number;
  /** The reader's name. */
  me: string;
  theme: Theme;
  /** Times with seconds (HH:MM:SS), for --seconds. */
  seconds?: boolean;
  /** The rows of a file message's preview picture, when there is one. */
  previewOf?: (entry: ChatMessage) => StyledLine[] | undefined;
}
/** The key of the "new messages" row. */
export const NEW_MESSAGES_ROW = 'new-messages';

const LONGEST_NAME_COLUMN = 16;
const NARROWEST_BODY = 12;

/** Text from the network made safe to draw: one string per line of the body, tabs as spaces. */
function bodyLines(body: string): string[] {
  return body.split(/\r\n|\n|\r/).map((line) => printable(line.replace(/\t/g, '    ')));
}

function markOf(entry: TimelineEntry, theme: Theme): StyledLine[number] {
  if (entry.kind === 'notice') return entry.tone === 'error' ? seg('!', theme.error) : seg('•', theme.quiet);
  if (!entry.own) return seg(' ');
  switch (entry.delivery) {
    case 'pending':
      return seg('…', theme.pending);
    case 'sent':
      return seg('✓', theme.sent);
    case 'failed':
      return seg('✗', theme.error);
  }
}

/**
 * The conversation as rows of `width` columns: a day separator whenever the
 * local date changes, then for each message `HH:MM mark name  text`, long
 * text wrapped under itself. The mark shows own messages' delivery: … until
 * the server stored it, ✓ once it did, ✗ when it was refused (with the reason
 * below). An action (/ME) reads "* name action" after an empty name column.
 * Notices (answers, errors, presence) fill the name column with text. A
 * "new messages" line stands above the first message that was unread when
 * the conversation was opened.
 */
export function layoutTimeline(conversation: Conversation, options: TimelineLayoutOptions): PaneLine[] {
  const { width, me, theme } = options;
  const TIME_WIDTH = options.seconds ? 8 : 5;
  const clock = options.seconds ? formatClock : formatHourMinute;
  const lines: PaneLine[] = [];
  const entries = conversation.entries();
  const nameColumn = Math.min(
    LONGEST_NAME_COLUMN,
    Math.max(textWidth(me), textWidth(conversation.peer), ...entries.map((e) => (e.kind === 'message' ? textWidth(e.sender) : 0))),
    Math.max(4, width - TIME_WIDTH - 3 - NARROWEST_BODY),
  );

  if (conversation.loadingOlder) lines.push({ line: [seg('  loading older messages…', theme.quiet)] });
  else if (conversation.hasMore === true) lines.push({ line: [seg('  ↑ older messages: PageUp', theme.quiet)] });
  else if (conversation.hasMore === false && conversation.peer !== '') {
    lines.push({ line: [seg(`  this is the start of your conversation with ${conversation.peer}`, theme.quiet)] });
  }

  let day: Date | undefined;
  for (const entry of entries) {
    if (!day || !sameDay(day, entry.time)) {
      day = entry.time;
      lines.push({ line: centred(` ${formatDay(entry.time)} `, width, '─', theme.quiet) });
    }
    if (entry.kind === 'message' && entry.id !== undefined && entry.id === conversation.markerId) {
      lines.push({ line: centred(' new messages ', width, '─', theme.badge), key: NEW_MESSAGES_ROW });
    }
    const time = seg(clock(entry.time), theme.quiet);
    const mark = markOf(entry, theme);
    if (entry.kind === 'notice') {
      const indent = TIME_WIDTH + 3;
      const style = entry.tone === 'error' ? theme.error : theme.quiet;
      wrapAll(bodyLines(entry.text), width - indent).forEach((text, i) => {
        const start = i === 0 ? [time, seg(' '), mark, seg(' ')] : [seg(' '.repeat(indent))];
        lines.push({ line: [...start, seg(text, style)], key: entry.key });
      });
      continue;
    }
    const indent = TIME_WIDTH + 3 + nameColumn + 2;
    const nameStyle = entry.own ? theme.own : theme.sender(entry.sender);
    const name = seg(entry.action ? ' '.repeat(nameColumn) : padTo(printable(entry.sender), nameColumn), nameStyle);
    const body = entry.action ? `* ${entry.sender} ${entry.body}` : entry.file ? fileText(entry.file, entry.body) : entry.body;
    wrapAll(bodyLines(body), width - indent).forEach((text, i) => {
      const start = i === 0 ? [time, seg(' '), mark, seg(' '), name, seg('  ')] : [seg(' '.repeat(indent))];
      lines.push({ line: [...start, seg(text, entry.mention ? theme.mention : entry.action ? nameStyle : undefined)], key: entry.key });
    });
    for (const row of options.previewOf?.(entry) ?? []) lines.push({ line: [seg(' '.repeat(indent)), ...row], key: entry.key });
    if (entry.delivery === 'failed') {
      const why = `not sent: ${printable(entry.failure ?? 'refused by the server')} — press Up to get the text back`;
      for (const text of wrapAll([why], width - indent)) lines.push({ line: [seg(' '.repeat(indent)), seg(text, theme.error)], key: entry.key });
    }
  }
  if (entries.length === 0 && conversation.peer !== '') {
    lines.push({ line: [seg(`  no messages yet — say hello to ${conversation.peer}`, theme.quiet)] });
  }
  return lines;
}

function wrapAll(paragraphs: string[], width: number): string[] {
  return paragraphs.flatMap((paragraph) => wrapText(paragraph, Math.max(NARROWEST_BODY, width)));
}

/** The pane when no conversation is open: how to start, then the notices. */
export function layoutHome(home: Conversation, options: TimelineLayoutOptions & { conversations: number }): PaneLine[] {
  const { theme, width } = options;
  const hint = (keys: string, what: string): PaneLine => ({ line: [seg('  '), seg(padTo(keys, 15), theme.title), seg(truncate(what, width - 17))] });
  const lines: PaneLine[] = [
    { line: [] },
    { line: [seg(truncate(`  Welcome to TinyChat, ${options.me}.`, width), theme.title)] },
    { line: [] },
    hint('/START <name>', 'open a conversation (Tab completes names)'),
    hint('/USERS', 'everyone, online or offline'),
  ];
  if (options.conversations > 0) lines.push(hint('Alt-1…9', 'go to an open conversation'));
  lines.push(hint('F1', 'every command and key'), { line: [] });
  return [...lines, ...layoutTimeline(home, options)];
}
