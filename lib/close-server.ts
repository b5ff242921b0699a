/**
 * Closing a `net.Server` as a promise: stops accepting and resolves once every open connection has
 * ended (`server.close`'s callback), or at once for a server that is not listening (never started or
 * already closed), where `close` would call back with ERR_SERVER_NOT_RUNNING.
 */
import type { Server } from 'node:net';

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => {
      resolve();
    });
  });
}
