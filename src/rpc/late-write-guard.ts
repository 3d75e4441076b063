import { ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';

/**
 * Drops a response message that would go out after grpc-js has ended the
 * call by itself — it does so when a request is over the receive limit or
 * cannot be decoded — while that call's status is still on its way.
 *
 * grpc-js (1.14) writes such a late message anyway; the write fails, the
 * status is never sent, and the client waits for it until its deadline while
 * the server holds the HTTP/2 stream open. Sessions cannot see the moment
 * coming (grpc-js tells them only once the status is out, and frames they
 * wrote earlier may still sit in the stream's buffer), so the guard sits
 * right above grpc-js. grpc-js offers no public signal for it: the guard
 * looks at the call's HTTP/2 stream, and if that ever moves, it lets every
 * message through, as before.
 */
export const lateWriteGuard: ServerInterceptor = (_method, call) => {
  const http2Stream = (call as unknown as { stream?: { writableEnded?: unknown } }).stream;
  return new ServerInterceptingCall(call, {
    sendMessage(message, next) {
      // Not passing it on leaves the write unfinished; the call is over, and
      // grpc-js reports it cancelled once the status is out.
      if (http2Stream?.writableEnded === true) return;
      next(message);
    },
  });
};
