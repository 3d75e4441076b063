import childProcess = require('node:child_process');
import * as net from 'node:net';
import { relative, sep } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';

/**
 * A record of what a test process really has open: gRPC servers that were
 * bound and still listen or hold connections, other listening servers,
 * gRPC calls started without a status yet, gRPC channels used and not
 * closed, and child processes not exited. Each is asked for its own state
 * when checked, never what a helper believes about it.
 *
 * Loading this module patches grpc-js, net and child_process once; the
 * leak hook (leak-hook.ts) says whom each resource belongs to and checks.
 */

/** Who opened a resource: a test, a suite's before hook, or the run itself. */
export interface Owner {
  /** Words for a failure message, e.g. `test "x sends y" (test/e2e/a.test.ts)`. */
  describe(): string;
}

/** One thing that was opened. */
export interface Resource {
  /** What it is and which one, e.g. `gRPC call /tinychat.v1.Chat/Converse`. */
  what: string;
  /** What the test must do so that it is gone. */
  howToClose: string;
  /** Where it was created: the first frames of the stack outside node_modules. */
  where: string;
  owner: Owner;
  /** Asks the thing itself whether it is still open. */
  isOpen(): boolean;
  /** Closes it by force, so that a leak does not spoil the tests after it. */
  forceClose(): void;
}

const THE_RUN: Owner = { describe: () => 'no test or suite (module load time)' };
let currentOwner: Owner = THE_RUN;
const open = new Set<Resource>();

/** Resources opened from now on belong to `owner`. */
export function setOwner(owner: Owner | undefined): void {
  currentOwner = owner ?? THE_RUN;
}

/** The resources of `owner` (of any owner when omitted) that are still open. */
export function openResources(owner?: Owner): Resource[] {
  const found: Resource[] = [];
  for (const resource of open) {
    if (!resource.isOpen()) open.delete(resource);
    else if (owner === undefined || resource.owner === owner) found.push(resource);
  }
  return found;
}

/** Stops tracking a resource (after it was reported and closed by force). */
export function forget(resource: Resource): void {
  open.delete(resource);
}

/** A stack excerpt of the caller: frames of this project only, at most five. */
function creationSite(): () => string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const captured = new Error();
  Error.stackTraceLimit = limit;
  // V8 formats the stack when it is first read; most resources close cleanly and are never read.
  return () => {
    const frames = (captured.stack ?? '')
      .split('\n')
      .slice(1)
      .map((line) => line.trim())
      .filter((line) => !/node_modules|node:|open-resources\.|\(<anonymous>\)/.test(line));
    const shown = frames.slice(0, 5).map((line) => `at ${line.replace(/^at /, '').split(process.cwd() + sep).join('')}`);
    return shown.length > 0 ? shown.join('\n') : '(no frame of this project on the stack)';
  };
}

function track(what: string, howToClose: string, isOpen: () => boolean, forceClose: () => void): Resource {
  const where = creationSite();
  const resource: Resource = {
    what,
    howToClose,
    get where() {
      return where();
    },
    owner: currentOwner,
    isOpen,
    forceClose,
  };
  open.add(resource);
  return resource;
}

function patchGrpcServers(): void {
  type Internals = { http2Servers?: Map<unknown, unknown>; sessions?: Map<unknown, unknown>; shutdown?: boolean };
  const tracked = new WeakSet<grpc.Server>();
  const bindAsync = grpc.Server.prototype.bindAsync;
  grpc.Server.prototype.bindAsync = function (this: grpc.Server, port: string, ...rest: unknown[]) {
    if (!tracked.has(this)) {
      tracked.add(this);
      const server = this as unknown as Internals;
      track(
        `gRPC server bound to ${port}`,
        'stop it and await the stop (`await server.stop()` for startTestServer, or tryShutdown’s callback)',
        () => (server.http2Servers ? server.http2Servers.size > 0 || (server.sessions?.size ?? 0) > 0 : !server.shutdown),
        () => this.forceShutdown(),
      );
    }
    return (bindAsync as (...args: unknown[]) => void).call(this, port, ...rest);
  } as typeof bindAsync;
}

function patchListeningServers(): void {
  const tracked = new WeakSet<net.Server>();
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    // grpc-js listens for the gRPC servers tracked above; the stack would name only grpc-js.
    if (!tracked.has(this) && !/@grpc[\\/]grpc-js/.test(new Error().stack ?? '')) {
      tracked.add(this);
      const server = this;
      track(
        `${server.constructor.name} listening (node:net)`,
        'close it and await its close callback (`server.close(callback)`)',
        () => server.listening,
        () => {
          server.close();
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        },
      );
    }
    return (listen as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof listen;
}

/**
 * Channels are tracked from their construction, so that a client made in a
 * suite's before hook belongs to the suite even when a test first uses it.
 * grpc-js's Client reads ChannelImplementation from its module when it
 * builds a channel; a subclass put there sees every new channel.
 */
function patchGrpcChannels(): void {
  const channelModule = require('@grpc/grpc-js/build/src/channel') as { ChannelImplementation: typeof grpc.Channel };
  const Original = channelModule.ChannelImplementation;
  class TrackedChannel extends Original {
    constructor(...args: ConstructorParameters<typeof grpc.Channel>) {
      super(...args);
      const channel = this as grpc.Channel;
      track(
        `gRPC channel to ${channel.getTarget()}`,
        'close the client that owns it (`client.close()`)',
        () => channel.getConnectivityState(false) !== grpc.connectivityState.SHUTDOWN,
        () => channel.close(),
      );
    }
  }
  channelModule.ChannelImplementation = TrackedChannel;
}

function patchGrpcCalls(): void {
  type Listener = {
    onReceiveMetadata?(metadata: unknown): void;
    onReceiveMessage?(message: unknown): void;
    onReceiveStatus?(status: unknown): void;
  };
  type Call = { start(metadata: unknown, listener: Listener): void; cancelWithStatus(code: grpc.status, details: string): void };
  const proto = grpc.Channel.prototype as unknown as { createCall(this: grpc.Channel, method: string, ...rest: unknown[]): Call };
  const createCall = proto.createCall;
  proto.createCall = function (this: grpc.Channel, method: string, ...rest: unknown[]) {
    const call = createCall.call(this, method, ...rest);
    let ended = false;
    let resource: Resource | undefined;
    const start = call.start.bind(call);
    call.start = (metadata, listener) => {
      resource = track(
        `gRPC call ${method} with no status yet`,
        'cancel it (`stream.cancel()`) or end it and await its status (`await stream.finish()`)',
        () => !ended,
        () => call.cancelWithStatus(grpc.status.CANCELLED, 'cancelled by the leak check: the test left this call open'),
      );
      start(metadata, {
        onReceiveMetadata: (m) => listener.onReceiveMetadata?.(m),
        onReceiveMessage: (m) => listener.onReceiveMessage?.(m),
        onReceiveStatus: (status) => {
          ended = true;
          if (resource) open.delete(resource);
          listener.onReceiveStatus?.(status);
        },
      });
    };
    return call;
  };
}

function patchChildProcesses(): void {
  const tracked = new WeakSet<childProcess.ChildProcess>();
  const cp = childProcess as unknown as Record<string, (...args: unknown[]) => childProcess.ChildProcess>;
  for (const name of ['spawn', 'execFile', 'fork', 'exec']) {
    const original = cp[name];
    cp[name] = function (this: unknown, ...args: unknown[]) {
      const child = original.apply(this, args);
      if (!tracked.has(child)) {
        tracked.add(child);
        const command = typeof args[0] === 'string' ? args[0] : '?';
        const argv = Array.isArray(args[1]) ? ` ${(args[1] as unknown[]).map(String).join(' ')}` : '';
        const shown = `${command}${argv}`.split(process.cwd() + sep).join('');
        const resource = track(
          `child process ${child.pid ?? '(not started)'} \`${shown.length > 120 ? `${shown.slice(0, 117)}...` : shown}\``,
          'await its exit event, killing it first if it does not stop by itself',
          () => child.pid !== undefined && child.exitCode === null && child.signalCode === null,
          () => child.kill('SIGKILL'),
        );
        child.once('exit', () => open.delete(resource));
      }
      return child;
    };
    if (name === 'execFile' || name === 'exec') {
      // promisify(execFile) resolves with { stdout, stderr }, as Node's own does.
      const wrapped = cp[name];
      Object.defineProperty(wrapped, promisify.custom, {
        value: (...args: unknown[]) => {
          let child: childProcess.ChildProcess | undefined;
          const result = new Promise((resolve, reject) => {
            child = wrapped(...args, (err: Error | null, stdout: unknown, stderr: unknown) =>
              err ? reject(Object.assign(err, { stdout, stderr })) : resolve({ stdout, stderr }),
            );
          });
          return Object.assign(result, { child });
        },
      });
    }
  }
}

patchGrpcServers();
patchListeningServers();
patchGrpcCalls();
patchGrpcChannels();
patchChildProcesses();

/** A path shown relative to the project, as in failure messages; a compiled test names its TypeScript source. */
export function shownPath(file: string | undefined): string {
  if (!file) return '(unknown file)';
  const shown = relative(process.cwd(), file);
  // Mocha knows the compiled file; name its source.
  return /^dist[\\/].*\.js$/.test(shown) ? shown.replace(/^dist[\\/]/, '').replace(/\.js$/, '.ts') : shown;
}
