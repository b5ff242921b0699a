/** A plain TCP forwarder (explicit mode, ports marked `#true`): no TLS, bytes to the target. */
import { connect, createServer, type Server } from 'node:net';
import { account, forward, track, type OpenSockets } from './forward.js';
import type { ListenerStats } from './stats.js';

export function createPlainForwarder(target: { host: string; port: number }, stats: ListenerStats, idleMs: number, open: OpenSockets): Server {
  return createServer({ allowHalfOpen: true, noDelay: true }, (down) => {
    stats.connectionsTotal += 1;
    stats.connectionsActive += 1;
    account(down, stats);
    track(open, down);
    const up = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    up.once('error', () => { if (up.bytesWritten === 0) stats.upstreamConnectFailures += 1; });
    track(open, up);
    forward(down, up, idleMs);
  });
}
