import { ChatError } from '../chat/errors';
import type { Bus } from '../bus/bus';
import type { Logger } from '../log';
import type { Store } from '../store/store';
import type { Health } from './health';

/** How often the store is asked whether it can be used. */
export const READINESS_INTERVAL_MS = 1000;
/** A ping slower than this counts as no answer. */
const PING_TIMEOUT_MS = 3000;

/**
 * Whether this node can serve: its store answers and its bus (between nodes)
 * is connected. While not, health says NOT_SERVING for the chat service and
 * calls are refused with UNAVAILABLE saying what is wrong, so clients go to
 * another node or try again; it recovers by itself when both are back.
 */
export class Readiness {
  private storeProblem: string | undefined;
  private busProblem: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopBus: (() => void) | undefined;
  private reported: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus | undefined,
    private readonly health: Health,
    private readonly logger: Logger,
    /** This node's name, so that a person reading the refusal knows which node. */
    private readonly nodeName: () => string,
    private readonly intervalMs = READINESS_INTERVAL_MS,
  ) {}

  /** What keeps this node from serving, or undefined when nothing does. */
  get problem(): string | undefined {
    return this.storeProblem ?? this.busProblem;
  }

  /** Throws UNAVAILABLE naming the problem, if there is one. */
  check(): void {
    const problem = this.problem;
    if (problem) {
      throw new ChatError(
        'unavailable',
        `server node ${this.nodeName()} ${problem} — try again in a moment (a client with several --server addresses moves to the next)`,
      );
    }
  }

  start(): void {
    if (this.bus) {
      this.stopBus = this.bus.onStateChange((state) => {
        this.busProblem = state === 'connected' ? undefined : `cannot reach the bus between nodes (${this.bus!.description})`;
        this.update();
      });
    }
    const tick = () => {
      void this.pingStore().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, this.intervalMs).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.stopBus?.();
  }

  private async pingStore(): Promise<void> {
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.store.ping(),
        new Promise((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS / 1000} s`)), PING_TIMEOUT_MS);
        }),
      ]);
      this.storeProblem = undefined;
    } catch (err) {
      const reason = err instanceof Error ? err.message.replace(/^the server cannot /, '') : String(err);
      this.storeProblem = `cannot use its database (${reason})`;
    } finally {
      clearTimeout(timeout);
    }
    this.update();
  }

  private update(): void {
    const problem = this.problem;
    if (problem === this.reported) return;
    this.reported = problem;
    this.health.setServing(problem === undefined);
    if (problem) this.logger.error('not-serving', { problem });
    else this.logger.info('serving-again', {});
  }
}
