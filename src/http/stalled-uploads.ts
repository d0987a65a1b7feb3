/**
 * Shutdown must not wait on a client that stopped sending its body: Node only gives up on it at REQUEST_TIMEOUT_MS
 * (30 s by default), after the shutdown's grace period, and the process would exit 1 with the request half read.
 * Once the app is closing, a connection whose request body is still incomplete and that has been silent for
 * STALL_MS is destroyed; uploads that are still moving, and requests already being computed or answered, are left
 * to finish.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Silence on an unfinished upload, once closing, after which the connection is dropped. */
export const STALL_MS = 2000;

export function stalledUploadReaper(server: Server): { closing(): void } {
  const sockets = new Set<Socket>();
  // Per connection, not per request: a keep-alive connection is tracked once.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const watch = (socket: Socket) => {
    socket.setTimeout(STALL_MS, () => {
      // The response in progress on this connection, if any (Node keeps it there while a request is served).
      const response = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (response && !response.req.complete) socket.destroy();
      else watch(socket);
    });
  };
  return {
    closing() {
      for (const socket of sockets) watch(socket);
    },
  };
}
