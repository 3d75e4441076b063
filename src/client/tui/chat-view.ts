import * as blessed from 'blessed';
import type { ChatController, QuitOutcome } from '../state/chat-controller';
import type { ChatState } from '../state/chat-state';
import { Completer } from '../state/completion';
import type { ChatMessage, Conversation } from '../state/conversation';
import { InputHistory } from '../state/input-history';
import { LineEditor } from '../state/line-editor';
import { holdsSecret, secretStart, type SecretPrompt } from '../state/secret-input';
import { layoutHeader, layoutStatus } from './bars-layout';
import { createCanvas, type Canvas } from './canvas';
import { layoutInput, type InputArea } from './input-layout';
import { actionFor, applyEdit, type Action, type KeyEvent } from './keymap';
import { layoutHelp, layoutSearch, layoutUsers, type OverlayContent } from './overlay-layout';
import { PaneScroll, WHEEL_ROWS } from './pane-scroll';
import { screenGeometry, type Geometry, type Rect } from './screen-geometry';
import { layoutSidebar } from './sidebar-layout';
import { fit, seg, type StyledLine } from './styled-line';
import { TerminalInput } from './terminal-input';
import type { Theme } from './theme';
import { layoutHome, layoutTimeline, NEW_MESSAGES_ROW, type PaneLine } from './timeline-layout';
import { layoutTransfer } from './transfer-layout';
import { previewRows } from './preview-rows';

/** A conversation's rows, kept until it or the width changes. */
interface CachedLayout {
  stamp: string;
  lines: PaneLine[];
}

type Box = blessed.Widgets.BoxElement;
type Part = 'sidebar' | 'divider' | 'header' | 'pane' | 'rule' | 'input' | 'status' | 'overlay';

const HOME = '';

function place(box: Box, rect: Rect): void {
  box.left = rect.left;
  box.top = rect.top;
  box.width = rect.width;
  box.height = rect.height;
}

/** How the chat screen shows things. */
export interface ChatViewOptions {
  /** Times with seconds. */
  seconds?: boolean;
  /** The clock (ms since the epoch); Date.now by default. */
  clock?: () => number;
}

/**
 * The chat screen: sidebar, conversation pane, input row and status bar. It
 * draws the ChatState after every change and turns keys into actions on the
 * state and the controller; everything it knows beyond that is how the
 * screen is scrolled and what is being typed.
 */
export class ChatView {
  /** Resolves once the person left and the connection is closed. */
  readonly done: Promise<Extract<QuitOutcome, { done: true }>>;

  private readonly editor = new LineEditor();
  private readonly history = new InputHistory();
  private readonly completer = new Completer();
  private readonly scroll = new PaneScroll();
  private readonly layouts = new Map<string, CachedLayout>();
  private readonly parts: Record<Part, Canvas>;
  private readonly terminalInput: TerminalInput;
  private drawScheduled: NodeJS.Immediate | undefined;
  private tick: NodeJS.Timeout | undefined;
  private completionHint: string | undefined;
  /** The conversation drawn last, to notice when another is shown. */
  private shownKey: string | undefined;
  /** First row of the overlay shown, and how far it can go. */
  private overlayTop = 0;
  private overlayMaxTop = 0;
  private overlayPage = 1;
  private leaving = false;
  private finish: (outcome: Extract<QuitOutcome, { done: true }>) => void = () => {};

  private readonly onChange = () => this.schedule();
  private readonly onBell = () => this.screen.program.bell();
  private readonly onKey = (ch: string | undefined, key: KeyEvent | undefined) => this.key(ch, key);
  private readonly onResize = () => this.draw();
  private readonly onMouse = (event: { action?: string }) => this.wheel(event);
  /** True while the client takes the mouse (wheel scrolling); F2 gives it back to the terminal for selecting text. */
  private mouseOn = true;

  constructor(
    private readonly screen: blessed.Widgets.Screen,
    private readonly state: ChatState,
    private readonly controller: ChatController,
    private readonly theme: Theme,
    private readonly options: ChatViewOptions = {},
  ) {
    const canvas = (options: blessed.Widgets.BoxOptions = {}) => createCanvas(screen, options);
    this.parts = {
      sidebar: canvas(),
      divider: canvas(),
      header: canvas(),
      pane: canvas(),
      rule: canvas(),
      input: canvas(),
      status: canvas(),
      overlay: canvas({ border: { type: 'line' }, padding: { left: 1, right: 1 }, hidden: true }),
    };
    this.terminalInput = new TerminalInput(screen, {
      paste: (text) => this.typed(text),
      text: (text) => this.typed(text),
      newline: () => this.typed('\n'),
    });
    this.done = new Promise((resolve) => {
      this.finish = resolve;
    });
    state.on('change', this.onChange);
    state.on('bell', this.onBell);
    screen.on('keypress', this.onKey);
    screen.on('resize', this.onResize);
    screen.program.on('mouse', this.onMouse);
    screen.program.enableMouse();
    this.draw();
  }

  /** Leaves as /QUIT does (also Ctrl-C): sends what is pending first when the server is reachable. */
  private async quit(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    try {
      const outcome = await this.controller.quit();
      if (outcome.done) this.finish(outcome);
    } finally {
      this.leaving = false;
    }
  }

  /** Detaches from the screen and the state. */
  dispose(): void {
    this.state.removeListener('change', this.onChange);
    this.state.removeListener('bell', this.onBell);
    this.screen.removeListener('keypress', this.onKey);
    this.screen.removeListener('resize', this.onResize);
    this.screen.program.removeListener('mouse', this.onMouse);
    this.screen.program.disableMouse();
    this.terminalInput.dispose();
    if (this.drawScheduled) clearImmediate(this.drawScheduled);
    clearTimeout(this.tick);
    for (const part of Object.values(this.parts)) part.box.destroy();
  }

  private schedule(): void {
    this.drawScheduled ??= setImmediate(() => {
      this.drawScheduled = undefined;
      this.draw();
    });
  }

  /** Draws everything from the state as it is now. */
  draw(): void {
    if (this.drawScheduled) {
      clearImmediate(this.drawScheduled);
      this.drawScheduled = undefined;
    }
    const cols = this.screen.width as number;
    const rows = this.screen.height as number;
    const input = this.inputArea(cols);
    const geometry = screenGeometry(cols, rows, input.rows.length);
    const now = (this.options.clock ?? Date.now)();
    const { theme, state, parts } = this;

    for (const name of ['header', 'pane', 'rule', 'input', 'status'] as const) place(parts[name].box, geometry[name]);
    // The People rows the sidebar has room for are the people the client watches.
    state.setSidebarRows(geometry.sidebar?.height ?? 0);
    if (geometry.sidebar && geometry.divider) {
      place(parts.sidebar.box, geometry.sidebar);
      place(parts.divider.box, geometry.divider);
      parts.sidebar.box.show();
      parts.divider.box.show();
      parts.sidebar.setRows(layoutSidebar(state, geometry.sidebar.width, geometry.sidebar.height, theme));
      parts.divider.setRows(Array.from({ length: geometry.divider.height }, () => [seg('│', theme.quiet)]));
    } else {
      parts.sidebar.box.hide();
      parts.divider.box.hide();
    }

    const scrolledBack = this.drawPane(geometry);
    parts.header.setRows([layoutHeader(state, geometry.header.width, theme, scrolledBack, new Date(now), !geometry.sidebar)]);
    parts.rule.setRows([this.rule(geometry)]);
    const transfers = this.controller.files.transfers;
    parts.status.setRows([transfers.length > 0 ? layoutTransfer(transfers, geometry.status.width, theme, now) : layoutStatus(state, geometry.status.width, theme, now)]);
    parts.input.setRows(input.rows);
    this.drawOverlay(cols, rows);

    this.screen.render();
    const program = this.screen.program;
    if (state.overlay) program.hideCursor();
    else {
      program.cup(geometry.input.top + input.cursor.row, Math.min(geometry.input.width - 1, input.cursor.col));
      program.showCursor();
    }

    clearTimeout(this.tick);
    const next = state.status.nextChangeIn(now);
    if (next !== undefined) this.tick = setTimeout(() => this.schedule(), next + 5);
  }

  private rule(geometry: Geometry): StyledLine {
    const width = geometry.rule.width;
    const hint = this.completionHint;
    const line = '─'.repeat(width).split('');
    if (geometry.divider) line[geometry.divider.left] = '┴';
    const text = line.join('');
    if (!hint) return [seg(text, this.theme.quiet)];
    const label = ` ${hint} `;
    return fit([seg('──', this.theme.quiet), seg(label, this.theme.title), seg(text.slice(2 + label.length), this.theme.quiet)], width);
  }

  private inputArea(width: number): InputArea {
    const asked = this.state.prompt;
    if (asked) {
      const placeholder = 'shown as dots — Enter: next, Esc: cancel';
      return layoutInput(asked.editor, { prompt: `${asked.question}: `, placeholder, width, theme: this.theme, secretFrom: 0 });
    }
    const current = this.state.current;
    const prompt = current ? `${current.peer} › ` : '› ';
    const placeholder = current ? `message ${current.peer} — Enter sends, F1 help` : 'type /START <name> to open a conversation, F1 for help';
    // A password typed after /PASSWORD or /LOGIN <name> shows as dots; only the line's start can say so.
    const secretFrom = secretStart(this.editor.graphemes.slice(0, 200).join(''));
    return layoutInput(this.editor, { prompt, placeholder, width, theme: this.theme, secretFrom });
  }

  /** Text that arrives whole (a paste, Alt-Enter's newline) goes into the line at the cursor. */
  private typed(text: string): void {
    if (this.state.overlay) this.state.setOverlay(undefined);
    if (this.state.prompt) {
      // A password is one line: a pasted one loses its line breaks.
      this.state.prompt.editor.insert(text.replace(/[\r\n]/g, ''));
      return this.schedule();
    }
    this.editor.insert(text);
    this.history.reset();
    this.completer.reset();
    this.completionHint = undefined;
    this.schedule();
  }

  /** Draws the conversation (or the home page); true when it is scrolled back from the newest line. */
  private drawPane(geometry: Geometry): boolean {
    const { state, theme } = this;
    const pane = geometry.pane;
    const current = state.current;
    const key = current?.key ?? HOME;
    const files = this.controller.files;
    const previewOf = (entry: ChatMessage) => previewRows(files.preview(entry.id), pane.width - 1);
    const options = { width: pane.width - 1, me: state.me, theme, seconds: this.options.seconds, previewOf };
    const lines: PaneLine[] = current ? this.timeline(current, options) : layoutHome(state.home, { ...options, conversations: state.conversations.length });
    const height = pane.height;
    this.scroll.keepOnly(new Set([HOME, ...state.conversations.map((conversation) => conversation.key)]));
    for (const known of this.layouts.keys()) if (!state.find(known)) this.layouts.delete(known);
    const jump = state.jump;
    if (current && jump?.key === key) {
      // A chosen search hit: its message at the top of the pane.
      state.jump = undefined;
      const entry = current.entries().find((e) => e.kind === 'message' && e.id === jump.id);
      this.shownKey = key;
      if (entry) this.scroll.showFrom(key, entry.key);
    }
    if (key !== this.shownKey) {
      // A conversation opened with unread messages starts at its "new messages" line.
      this.shownKey = key;
      if (current?.markerId !== undefined) this.scroll.showFrom(key, NEW_MESSAGES_ROW);
    }
    const { start, following } = this.scroll.window(key, lines, height);
    const visible = lines.slice(start, start + height).map((line) => [seg(' '), ...line.line]);
    // A short conversation sits on the input, as chats do; the home page reads from the top.
    const padding = current ? height - visible.length : 0;
    this.parts.pane.setRows([...Array.from({ length: padding }, (): StyledLine => []), ...visible]);
    return !following;
  }

  /** The conversation's rows: laid out again only when it changed, since each key press draws. */
  private timeline(conversation: Conversation, options: Parameters<typeof layoutTimeline>[1]): PaneLine[] {
    const stamp = [conversation.revision, options.width, options.me, conversation.peer, conversation.hasMore, conversation.loadingOlder, this.controller.files.revision].join('|');
    const cached = this.layouts.get(conversation.key);
    if (cached?.stamp === stamp) return cached.lines;
    const lines = layoutTimeline(conversation, options);
    this.layouts.set(conversation.key, { stamp, lines });
    return lines;
  }

  private drawOverlay(cols: number, rows: number): void {
    const overlay = this.state.overlay;
    const { box } = this.parts.overlay;
    if (!overlay) {
      box.hide();
      return;
    }
    const width = Math.max(20, Math.min(cols - 2, 84));
    const inner = width - 4;
    const content: OverlayContent =
      overlay.kind === 'help'
        ? layoutHelp(this.state.commands, inner, this.theme)
        : overlay.kind === 'search'
          ? layoutSearch(overlay, this.state.me, new Date((this.options.clock ?? Date.now)()), inner, this.theme)
          : layoutUsers(overlay.people, this.state.me, new Date((this.options.clock ?? Date.now)()), this.theme);
    const room = Math.max(1, rows - 2);
    const all = content.rows.map((row) => fit(row, inner));
    let shownRows = all;
    if (all.length > room) {
      // Too tall for the window: Up, Down, PgUp and PgDn scroll it.
      const page = Math.max(1, room - 1);
      this.overlayPage = page;
      this.overlayMaxTop = all.length - page;
      this.overlayTop = Math.min(this.overlayTop, this.overlayMaxTop);
      const below = all.length - this.overlayTop - page;
      shownRows = all.slice(this.overlayTop, this.overlayTop + page);
      shownRows.push([seg(below > 0 ? `↓ ${below} more: Down, PgDn` : '↑ Up, PgUp for the start', this.theme.quiet)]);
    } else {
      this.overlayTop = 0;
      this.overlayMaxTop = 0;
    }
    box.setLabel(content.title);
    box.width = width;
    box.height = shownRows.length + 2;
    box.left = Math.floor((cols - width) / 2);
    box.top = Math.max(0, Math.floor((rows - shownRows.length - 2) / 2) - 1);
    this.parts.overlay.setRows(shownRows);
    box.show();
    box.setFront();
  }

  private key(ch: string | undefined, key: KeyEvent | undefined): void {
    const action = actionFor(ch, key, { inputEmpty: this.editor.isEmpty });
    if (action.type === 'none') return;
    if (action.type !== 'complete') {
      this.completer.reset();
      this.completionHint = undefined;
    }
    // An overlay scrolls with the scrolling keys and goes away at any other
    // key, which then does what it always does; Esc, Enter and F1 only close it.
    if (this.state.prompt) {
      this.promptKey(this.state.prompt, action);
      return this.schedule();
    }
    const overlay = this.state.overlay;
    if (overlay?.kind === 'search' && this.chooseHit(overlay, action)) return this.schedule();
    if (this.state.overlay) {
      if (this.scrollOverlay(action)) return this.schedule();
      this.overlayTop = 0;
      this.state.setOverlay(undefined);
      if (action.type === 'close' || action.type === 'help' || action.type === 'submit') return;
    }
    this.act(action);
    this.schedule();
  }

  /** The mouse wheel scrolls the box shown, else the conversation; other mouse events do nothing. */
  private wheel(event: { action?: string }): void {
    if (!this.mouseOn || (event.action !== 'wheelup' && event.action !== 'wheeldown')) return;
    const up = event.action === 'wheelup';
    if (this.state.overlay) {
      this.overlayTop = Math.max(0, Math.min(this.overlayMaxTop, this.overlayTop + (up ? -WHEEL_ROWS : WHEEL_ROWS)));
    } else this.act({ type: 'scroll', to: up ? 'wheel-up' : 'wheel-down' });
    this.schedule();
  }

  /** Keys while a masked prompt is open: they edit its answer; Esc cancels it, Ctrl-C leaves. */
  private promptKey(prompt: SecretPrompt, action: Action): void {
    switch (action.type) {
      case 'insert':
        prompt.editor.insert(action.text);
        return;
      case 'edit':
        applyEdit(prompt.editor, action.op);
        return;
      case 'submit':
        prompt.answer();
        return;
      case 'close':
        this.state.setPrompt(undefined);
        this.state.notify('cancelled — nothing was changed');
        return;
      case 'quit':
        this.state.setPrompt(undefined);
        return this.act(action);
      case 'scroll':
      case 'redraw':
        return this.act(action);
      default:
        // Up, Tab and the rest have nothing to do in a password.
        return;
    }
  }

  /** Up and Down move through the search hits, Enter opens the one selected; false for other keys. */
  private chooseHit(search: Extract<NonNullable<ChatState['overlay']>, { kind: 'search' }>, action: Action): boolean {
    if (action.type === 'history') {
      search.selected = Math.max(0, Math.min(search.hits.length - 1, search.selected + action.direction));
      // Keep the selected row in the box.
      if (search.selected < this.overlayTop) this.overlayTop = search.selected;
      else if (search.selected >= this.overlayTop + this.overlayPage && this.overlayMaxTop > 0) this.overlayTop = search.selected - this.overlayPage + 1;
      return true;
    }
    if (action.type !== 'submit') return false;
    const hit = search.hits[search.selected];
    this.overlayTop = 0;
    this.state.setOverlay(undefined);
    if (hit) void this.controller.openAt(hit);
    return true;
  }

  private scrollOverlay(action: Action): boolean {
    let top = this.overlayTop;
    if (action.type === 'history') top += action.direction;
    else if (action.type === 'scroll' && action.to === 'page-up') top -= this.overlayPage;
    else if (action.type === 'scroll' && action.to === 'page-down') top += this.overlayPage;
    else if (action.type === 'scroll' && action.to === 'top') top = 0;
    else if (action.type === 'scroll' && action.to === 'bottom') top = this.overlayMaxTop;
    else return false;
    this.overlayTop = Math.max(0, Math.min(this.overlayMaxTop, top));
    return true;
  }

  private act(action: Action): void {
    const { state, editor } = this;
    switch (action.type) {
      case 'insert':
        editor.insert(action.text);
        this.history.reset();
        return;
      case 'edit':
        applyEdit(editor, action.op);
        return;
      case 'submit':
        return this.submit();
      case 'complete':
        return this.complete(action.backwards);
      case 'history': {
        const line = action.direction < 0 ? this.history.previous(editor.text) : this.history.next();
        if (line !== undefined) editor.set(line);
        return;
      }
      case 'go':
        state.focusIndex(action.index);
        return;
      case 'cycle':
        state.cycle(action.delta);
        return;
      case 'scroll':
        // At the top of what is loaded, PageUp (and Home) fetch the page before it.
        if (this.scroll.move(action.to) && state.current) void this.controller.loadOlder(state.current);
        return;
      case 'help':
        state.setOverlay({ kind: 'help' });
        return;
      case 'mouse':
        this.mouseOn = !this.mouseOn;
        if (this.mouseOn) this.screen.program.enableMouse();
        else this.screen.program.disableMouse();
        state.notify(
          this.mouseOn ? 'mouse on: the wheel scrolls (F2 turns it off to select text)' : 'mouse off: select text with it as usual; F2 turns the wheel back on',
          'info',
        );
        return;
      case 'close':
        return;
      case 'quit':
        void this.quit();
        return;
      case 'redraw':
        this.screen.realloc();
        this.draw();
        return;
    }
  }

  private submit(): void {
    const line = this.editor.clear();
    // A line with a password is never brought back by Up.
    if (holdsSecret(line)) this.history.reset();
    else this.history.add(line);
    if (line.trim() === '') return;
    const current = this.state.current;
    if (current) this.scroll.follow(current.key);
    void this.controller.submit(line).then((answer) => {
      if (answer === 'quit') return this.quit();
    });
  }

  private complete(backwards: boolean): void {
    const completed = this.completer.complete(this.editor.beforeCursor, this.state.completionSources(), backwards);
    if (!completed) {
      this.completionHint = undefined;
      this.screen.program.bell();
      return;
    }
    const after = this.editor.afterCursor;
    this.editor.set(completed.before + after, completed.before);
    this.completionHint =
      completed.candidates.length > 1
        ? completed.candidates.map((candidate, i) => (i === completed.index ? `[${candidate}]` : candidate)).join(' ')
        : undefined;
  }
}
