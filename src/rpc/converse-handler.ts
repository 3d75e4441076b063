import { asChatError, ChatError } from '../chat/errors';
import { ConverseSession, type SessionServices } from '../session/converse-session';
import { bearerToken } from './auth';
import { GrpcFrameSink } from './frame-sink';
import { toInboundFrame } from './wire';
import type { handleBidiStreamingCall } from '@grpc/grpc-js';
import type { Accounts } from '../chat/accounts';
import type { ClientFrame, ServerFrame } from '../gen/tinychat/v1/chat';
import type { PeerLimiter } from './peer-limiter';
import type { Readiness } from './readiness';

/** What the Converse edge enforces before a session starts. */
export interface ConverseAdmission {
  peers: PeerLimiter;
  /** 0 for no limit. */
  maxStreamsPerUser: number;
  isShuttingDown: () => boolean;
  /** Refuses new streams while this node cannot reach its store or bus. */
  readiness: Readiness;
}

/** The Converse RPC: authenticate, then hand the stream's events to a session. */
export function converseHandler(
  accounts: Accounts,
  services: SessionServices,
  admission: ConverseAdmission,
): handleBidiStreamingCall<ClientFrame, ServerFrame> {
  return (call) => {
    const sink = new GrpcFrameSink(call);
    if (admission.isShuttingDown()) {
      sink.end(new ChatError('unavailable', 'the server is shutting down — reconnect in a moment'));
      return;
    }
    let release: () => void;
    try {
      admission.readiness.check();
      release = admission.peers.enter(call.getPeer());
    } catch (err) {
      sink.end(asChatError(err));
      return;
    }
    // `on`, not `once`: release is idempotent, and once() would wrap it anew for each event and stream.
    for (const event of ['cancelled', 'finish', 'close', 'error']) call.on(event, release);
    accounts
      .authenticate(bearerToken(call.metadata))
      .then(async (caller) => {
        if (call.cancelled) return;
        const max = admission.maxStreamsPerUser;
        if (max > 0 && services.registry.streamsOf(caller.user.id) >= max) {
          throw new ChatError(
            'resource-exhausted',
            `you already have ${max} streams open (other terminals?) — close one, or log out elsewhere with /QUIT`,
          );
        }
        const session = new ConverseSession(services, caller, sink);
        call.on('cancelled', () => session.clientGone());
        call.on('end', () => session.clientFinished());
        // Frames that arrive before the session is open wait in the stream's buffer.
        await session.open();
        call.on('data', (frame: ClientFrame) => session.receive(toInboundFrame(frame)));
      })
      .catch((err: unknown) => {
        const error = asChatError(err);
        if (error.code === 'internal') services.logger.error('converse-failed', { error: String(err) });
        sink.end(error);
      });
  };
}
