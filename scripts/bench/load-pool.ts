import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { FromWorker, Job, ToWorker } from './load-protocol';

const WORKER = join(__dirname, 'load-worker.js');

type Reply<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;

/** One load worker process and the replies it has not yet been asked for. */
class Worker {
  readonly child: ChildProcess;
  private readonly inbox: FromWorker[] = [];
  /** Replies awaited; two at once while a long run is sampled ('done' and 'sample'). */
  private readonly waiters: Array<{ type: FromWorker['type']; resolve: (message: FromWorker) => void }> = [];
  private exitError: Error | undefined;

  constructor(index: number, heapMb: number) {
    this.child = fork(WORKER, [], {
      serialization: 'advanced',
      execArgv: [`--max-old-space-size=${heapMb}`],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: FromWorker) => this.receive(message));
    this.child.once('exit', (code, signal) => {
      this.exitError = new Error(`load worker ${index} exited (${signal ?? code})`);
      for (const waiter of this.waiters.splice(0)) waiter.resolve({ type: 'failed', error: this.exitError.message });
    });
  }

  send(message: ToWorker): void {
    this.child.send(message);
  }

  /** The next reply, which must be of `type`; a 'failed' reply or an exit rejects. */
  async next<T extends FromWorker['type']>(type: T): Promise<Reply<T>> {
    const message =
      this.inbox.shift() ??
      (this.exitError
        ? ({ type: 'failed', error: this.exitError.message } as FromWorker)
        : await new Promise<FromWorker>((resolve) => this.waiters.push({ type, resolve })));
    if (message.type === 'failed') throw new Error(message.error);
    if (message.type !== type) throw new Error(`load worker sent ${message.type} where ${type} was expected`);
    return message as Reply<T>;
  }

  /** Hands a reply to whoever awaits its type (a failure to every waiter), else to the first waiter, else keeps it. */
  private receive(message: FromWorker): void {
    if (message.type === 'failed' && this.waiters.length > 0) {
      for (const waiter of this.waiters.splice(0)) waiter.resolve(message);
      return;
    }
    const index = this.waiters.findIndex((w) => w.type === message.type);
    const waiter = index >= 0 ? this.waiters.splice(index, 1)[0] : this.waiters.shift();
    if (waiter) waiter.resolve(message);
    else this.inbox.push(message);
  }
}

/**
 * The load generator's processes. Every step goes to all workers at once and
 * resolves with each worker's reply, so that all of them start a run
 * together and the main process can time the run from outside.
 */
export class LoadPool {
  private readonly workers: Worker[];

  constructor(count: number, heapMb = 4096) {
    this.workers = Array.from({ length: count }, (_, i) => new Worker(i, heapMb));
  }

  /** The workers' process ids, to pin them and to read their CPU time. */
  get pids(): number[] {
    return this.workers.map((w) => w.child.pid!);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Gives worker i jobs[i] (workers without a job sit this one out); resolves when all are set up. */
  async setup(jobs: Job[]): Promise<Array<Reply<'ready'>>> {
    const busy = this.busy(jobs);
    busy.forEach(({ worker, job }) => worker.send({ type: 'setup', job }));
    return Promise.all(busy.map(({ worker }) => worker.next('ready')));
  }

  /** Starts the workers set up by `jobs` and resolves with what each measured. */
  async go(jobs: Job[]): Promise<Array<Reply<'done'>>> {
    const busy = this.busy(jobs);
    busy.forEach(({ worker }) => worker.send({ type: 'go' }));
    return Promise.all(busy.map(({ worker }) => worker.next('done')));
  }

  /** While `go(jobs)` runs: what each worker delivered since the previous sample. */
  async sample(jobs: Job[]): Promise<Array<Reply<'sample'>>> {
    const busy = this.busy(jobs);
    busy.forEach(({ worker }) => worker.send({ type: 'sample' }));
    return Promise.all(busy.map(({ worker }) => worker.next('sample')));
  }

  /** Tears down the users of `jobs`; resolves with any problems noticed. */
  async close(jobs: Job[]): Promise<string[]> {
    const busy = this.busy(jobs);
    busy.forEach(({ worker }) => worker.send({ type: 'close' }));
    const replies = await Promise.all(busy.map(({ worker }) => worker.next('closed')));
    return replies.flatMap((r) => r.errors);
  }

  /** Ends every worker. */
  async exit(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.child.exitCode !== null || worker.child.signalCode !== null) return resolve();
            const timer = setTimeout(() => worker.child.kill('SIGKILL'), 5000);
            worker.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (worker.child.connected) worker.send({ type: 'exit' });
            else worker.child.kill('SIGTERM');
          }),
      ),
    );
  }

  private busy(jobs: Job[]): Array<{ worker: Worker; job: Job }> {
    if (jobs.length > this.workers.length) throw new Error(`${jobs.length} jobs for ${this.workers.length} load workers`);
    return jobs.map((job, i) => ({ worker: this.workers[i], job }));
  }
}
