/**
 * The data path of one proxied connection: bytes both ways, half-close propagated (a FIN from one side
 * becomes a FIN to the other, as Envoy's TCP proxy does), an idle timeout, and teardown of both sides
 * as soon as either fails. Counters are updated once, when the downstream side closes.
 */
import type { Duplex } from 'node:stream';
import type { ListenerStats } from './stats.js';

/** What forward() needs from a socket: a duplex with byte counters and a timeout. */
export interface ForwardSocket extends Duplex {
  readonly bytesRead: number;
  readonly bytesWritten: number;
  setTimeout(ms: number, callback?: () => void): this;
}

/** Open sockets of live connections, so that a drain can end what is left. */
export type OpenSockets = Set<ForwardSocket>;

export function forward(down: ForwardSocket, up: ForwardSocket, stats: ListenerStats, idleMs: number, open: OpenSockets): void {
  open.add(down);
  open.add(up);
  const teardown = (): void => {
    down.destroy();
    up.destroy();
  };
  down.on('error', teardown);
  up.on('error', teardown);
  down.setTimeout(idleMs, teardown);
  up.setTimeout(idleMs, teardown);
  // A side that closed while the other still had work means the connection is over.
  down.once('close', () => {
    open.delete(down);
    stats.bytesReceived += down.bytesRead;
    stats.bytesSent += down.bytesWritten;
    stats.connectionsActive -= 1;
    up.destroy();
  });
  up.once('close', () => {
    open.delete(up);
    if (!down.writableFinished) down.destroy();
  });
  down.pipe(up);
  up.pipe(down);
}
