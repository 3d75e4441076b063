import { asChatError } from '../chat/errors';
import { runCommand, type CommandServices } from '../chat/commands';
import { bearerToken } from './auth';
import { toServiceError } from './status';
import { toCommandInput, toCommandResponse } from './wire';
import type { handleUnaryCall } from '@grpc/grpc-js';
import type { CommandRequest, CommandResponse } from '../gen/tinychat/v1/chat';
import type { Logger } from '../log';

/** The unary Command RPC: translate, run the command, translate back. */
export function commandHandler(services: CommandServices, logger: Logger): handleUnaryCall<CommandRequest, CommandResponse> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => runCommand(services, toCommandInput(call.request), bearerToken(call.metadata)))
      .then(
        (result) => {
          if (result.kind === 'login') logger.info('login', { user: result.user, registered: result.registered });
          if (result.kind === 'logged-out') logger.info('logout', { user: result.user });
          callback(null, toCommandResponse(result));
        },
        (err: unknown) => {
          if (asChatError(err).code === 'internal') logger.error('command-failed', { error: String(err) });
          callback(toServiceError(err));
        },
      );
  };
}
