/**
 * The data path of one proxied connection, once both sides are ready: bytes both ways, half-close
 * propagated (a FIN from one side becomes a FIN to the other, as Envoy's TCP proxy does), an idle
 * timeout, and teardown of both sides as soon as either fails or closes.
 */
import type { Duplex } from 'node:stream';

/** What forward() needs from a socket: a duplex with a timeout. */
export interface ForwardSocket extends Duplex {
  setTimeout(ms: number, callback?: () => void): this;
}

/** Open sockets of live connections, so that a drain can end what is left. */
export type OpenSockets = Set<ForwardSocket>;

/** Registers a socket in `open` until it closes. */
export function track(open: OpenSockets, socket: ForwardSocket): void {
  open.add(socket);
  socket.once('close', () => { open.delete(socket); });
}

export function forward(down: ForwardSocket, up: ForwardSocket, idleMs: number): void {
  const teardown = (): void => {
    down.destroy();
    up.destroy();
  };
  down.on('error', teardown);
  up.on('error', teardown);
  down.setTimeout(idleMs, teardown);
  up.setTimeout(idleMs, teardown);
  // Once one side is fully closed the connection is over; a lingering half of the other goes too.
  down.once('close', teardown);
  up.once('close', () => { if (!down.writableFinished) down.destroy(); });
  down.pipe(up);
  up.pipe(down);
}

/** Counts a downstream connection as active until it closes, then adds its bytes. */
export function account(down: Duplex & { readonly bytesRead: number; readonly bytesWritten: number }, stats: { connectionsActive: number; bytesReceived: number; bytesSent: number }): void {
  down.once('close', () => {
    stats.connectionsActive -= 1;
    stats.bytesReceived += down.bytesRead;
    stats.bytesSent += down.bytesWritten;
  });
}
