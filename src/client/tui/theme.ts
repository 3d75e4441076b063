import { nameKey } from '../../chat/names';
import type { Style } from './styled-line';

/** Every style the client uses, chosen once for what the terminal can show. */
export interface Theme {
  /** Times, separators, hints: present but quiet. */
  quiet: Style;
  /** Section titles and the peer's name in the header. */
  title: Style;
  /** The reader's own name. */
  own: Style;
  error: Style;
  online: Style;
  offline: Style;
  /** Own messages' delivery marks. */
  pending: Style;
  sent: Style;
  /** The conversation shown, in the sidebar. */
  selected: Style;
  /** Unread counts. */
  badge: Style;
  /** Messages that mention the reader, and their count in the sidebar. */
  mention: Style;
  /** The status bar and its connection part, by tone. */
  bar: Style;
  barOk: Style;
  barBusy: Style;
  barDown: Style;
  /** Input prompt. */
  prompt: Style;
  /** Colour of a sender's name other than the reader. */
  sender(name: string): Style;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The theme for a terminal with `colors` colours. With 8 colours there is no
 * grey (it would come out black on black), so quiet text keeps the default
 * colour there.
 */
export function makeTheme(colors: number): Theme {
  const rich = colors >= 16;
  const senders = rich
    ? ['cyan', 'magenta', 'yellow', 'light-blue', 'light-magenta', 'light-cyan', 'light-yellow', 'light-red']
    : ['cyan', 'magenta', 'yellow', 'blue'];
  return {
    quiet: rich ? { fg: 'gray' } : {},
    title: { bold: true },
    own: { fg: 'green', bold: true },
    error: { fg: rich ? 'light-red' : 'red' },
    online: { fg: 'green' },
    offline: rich ? { fg: 'gray' } : {},
    pending: { fg: 'yellow' },
    sent: { fg: 'green' },
    selected: { inverse: true, bold: true },
    badge: { fg: 'black', bg: 'yellow', bold: true },
    mention: { fg: 'white', bg: rich ? 'magenta' : 'red', bold: true },
    bar: { fg: 'white', bg: 'blue' },
    barOk: { fg: 'black', bg: 'green' },
    barBusy: { fg: 'black', bg: 'yellow' },
    barDown: { fg: 'white', bg: 'red', bold: true },
    prompt: { bold: true, fg: 'cyan' },
    sender: (name) => ({ fg: senders[hash(nameKey(name)) % senders.length], bold: true }),
  };
}
