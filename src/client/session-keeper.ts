import type { ChatConnection } from './connection';
import type { SavedSessions } from './saved-sessions';
import type { ChatController } from './state/chat-controller';
import type { ChatState } from './state/chat-state';

/** How long changes gather before the saved session is written again. */
const SAVE_DELAY_MS = 500;

/**
 * Keeps the full-screen client's session saved while it runs: the token,
 * the open conversations in tab order with the position read in each, and
 * the one shown, written shortly after each change and once more at the
 * end. Leaving then keeps the session on the server, so the next start
 * resumes it without the password; /LOGOUT ends it and forgets it here.
 * Returns the function that stops it (with a last save).
 */
export function keepSession(memory: SavedSessions, server: string, connection: ChatConnection, state: ChatState, controller: ChatController): () => void {
  let forgotten = false;
  let timer: NodeJS.Timeout | undefined;
  const save = () => {
    clearTimeout(timer);
    timer = undefined;
    const token = connection.sessionToken;
    if (forgotten || !token) return;
    try {
      memory.save({
        server,
        user: state.me,
        token,
        conversations: state.conversations.map((conversation) => ({ peer: conversation.peer, readId: conversation.readId })),
        current: state.current?.peer,
        savedAt: Date.now(),
      });
    } catch (err) {
      forgotten = true;
      state.notify(`the session cannot be saved in ${memory.dir} (${(err as NodeJS.ErrnoException).code ?? String(err)}) — the next start asks for the password`, 'error');
    }
  };
  const onChange = () => {
    timer ??= setTimeout(save, SAVE_DELAY_MS);
  };
  controller.keepSession = true;
  controller.onLogout = () => {
    forgotten = true;
    clearTimeout(timer);
    memory.forget(server, state.me);
  };
  state.on('change', onChange);
  save();
  return () => {
    state.removeListener('change', onChange);
    save();
  };
}
