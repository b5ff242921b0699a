/** A plain TCP forwarder (explicit mode, ports marked `#true`): no TLS, bytes to the target. */
import { connect, createServer, type Server } from 'node:net';
import { endpoint, type MeshEvents } from './events.js';
import { account, forward, track, type OpenSockets } from './forward.js';
import type { ListenerStats } from './stats.js';

export function createPlainForwarder(
  target: { host: string; port: number },
  stats: ListenerStats,
  events: MeshEvents,
  idleMs: number,
  open: OpenSockets,
): Server {
  return createServer({ allowHalfOpen: true, noDelay: true }, (down) => {
    stats.connectionsTotal += 1;
    stats.connectionsActive += 1;
    account(down, stats);
    track(open, down);
    const up = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    let connected = false;
    up.once('connect', () => {
      connected = true;
    });
    up.once('error', (err: Error & { code?: string }) => {
      if (connected) return;
      stats.upstreamConnectFailures += 1;
      events.failed(
        {
          listener: stats.listener,
          direction: 'ingress',
          peer: endpoint(down.remoteAddress, down.remotePort),
          destination: endpoint(target.host, target.port),
        },
        `upstream connect: ${err.code ?? err.message}`,
      );
    });
    track(open, up);
    forward(down, up, idleMs);
  });
}
