import { asChatError } from '../chat/errors';
import { runCommand, type CommandServices } from '../chat/commands';
import { bearerToken, peerAddress } from './auth';
import { toServiceError } from './status';
import { toCommandInput, toCommandResponse } from './wire';
import type { handleUnaryCall } from '@grpc/grpc-js';
import type { CommandRequest, CommandResponse } from '../gen/tinychat/v1/chat';
import type { Logger } from '../log';
import type { PeerLimiter } from './peer-limiter';
import type { Readiness } from './readiness';

/** The unary Command RPC: translate, run the command, translate back. */
export function commandHandler(
  services: CommandServices,
  peers: PeerLimiter,
  logger: Logger,
  readiness: Readiness,
): handleUnaryCall<CommandRequest, CommandResponse> {
  return (call, callback) => {
    let release = () => {};
    Promise.resolve()
      .then(() => {
        readiness.check();
        release = peers.enter(call.getPeer());
      })
      .then(() => runCommand(services, toCommandInput(call.request), { token: bearerToken(call.metadata), address: peerAddress(call.getPeer()) }))
      .then(
        (result) => {
          release();
          if (result.kind === 'login') logger.info('login', { user: result.user, registered: result.registered });
          if (result.kind === 'logged-out') logger.info('logout', { user: result.user });
          callback(null, toCommandResponse(result));
        },
        (err: unknown) => {
          release();
          if (asChatError(err).code === 'internal') logger.error('command-failed', { error: String(err) });
          callback(toServiceError(err));
        },
      );
  };
}
