import * as grpc from '@grpc/grpc-js';

/** Sockets asked for per page. */
const PAGE = 1000;

interface SocketsPage {
  socket_ref?: { socket_id?: number | string }[];
  end?: boolean;
}

type SocketsHandler = (call: { request: Record<string, string> }, callback: (err: unknown, page?: SocketsPage) => void) => void;

/**
 * Counts the client connections a grpc-js server holds. grpc-js has no hook
 * for accepted connections, but it tracks each one for channelz (on by
 * default); its GetServerSockets handler is called here in-process, a page
 * at a time, without serving channelz to anyone.
 */
export function connectionCounter(server: grpc.Server): () => Promise<number> {
  const getSockets = grpc.getChannelzHandlers().GetServerSockets as unknown as SocketsHandler;
  const serverId = String(server.getChannelzRef().id);
  const page = (start: number) =>
    new Promise<SocketsPage>((resolve, reject) =>
      getSockets({ request: { server_id: serverId, start_socket_id: String(start), max_results: String(PAGE) } }, (err, value) =>
        err ? reject(err instanceof Error ? err : new Error(JSON.stringify(err))) : resolve(value ?? {}),
      ),
    );
  return async () => {
    let count = 0;
    for (let start = 0; ; ) {
      const { socket_ref: sockets = [], end = true } = await page(start);
      count += sockets.length;
      if (end || sockets.length === 0) return count;
      start = Number(sockets[sockets.length - 1].socket_id) + 1;
    }
  };
}
