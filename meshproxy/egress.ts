/**
 * Egress: a plain TCP listener on a 127/8 address; each connection is carried to the remote over
 * mutual TLS (our chain and key as the client certificate, the server verified against the mesh CA,
 * no hostname check and no SNI, as upstream). TLS sessions are cached per remote and resumed, which
 * saves the certificate exchange and signatures on every new connection to a mesh peer; with
 * CONTRAST_MESHPROXY_SESSION_RESUMPTION=false every connection is a full handshake.
 */
import { createServer, type Server } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { negotiatedGroup } from '../lib/tls-groups.js';
import { formatHostPort } from './config-annotations.js';
import { createNativeEgress } from './egress-native.js';
import { remoteFailed, type EgressOptions } from './egress-options.js';
import { account, forward, track } from './forward.js';

/** How long a session ticket is used before connections ask for new ones (Node's server tickets live 300 s). */
const TICKET_REFRESH_MS = 60_000;

export type { EgressOptions } from './egress-options.js';

export function createEgress(options: EgressOptions): Server {
  if (options.dataPath === 'native') return createNativeEgress(options);
  const { stats, certs } = options;
  const { host, port } = options.entry.remote;
  const remote = formatHostPort(options.entry.remote);
  /** The last session ticket from this remote, with the certificate generation it was made under. */
  let session: { ticket: Buffer; generation: number; at: number } | undefined;
  const resume = options.resumeSessions ?? true;
  // A 256 KiB writable highWaterMark: forward() corks the accepted socket across a round of TLS records.
  return createServer({ allowHalfOpen: true, noDelay: true, highWaterMark: 256 * 1024 }, (down) => {
    stats.connectionsTotal += 1;
    stats.connectionsActive += 1;
    account(down, stats);
    track(options.open, down);
    const generation = certs.generation;
    // allowHalfOpen and noDelay reach the TLS socket and its TCP connection (not in @types/node's ConnectionOptions).
    const connectOptions: ConnectionOptions & { allowHalfOpen: boolean; noDelay: boolean } = {
      host,
      port,
      secureContext: certs.current,
      rejectUnauthorized: true,
      checkServerIdentity: () => undefined,
      allowHalfOpen: true,
      noDelay: true,
    };
    const up = tlsConnect(connectOptions);
    // Not as the `session` option: tls.connect() would parse it twice (in _init and again after).
    // Parsing a ticket (it carries the peer's certificate) costs about 0.2-0.4 ms of CPU.
    const cached = resume && session?.generation === generation ? session : undefined;
    if (cached !== undefined) (up as TLSSocket & { setSession(ticket: Buffer): void }).setSession(cached.ticket);
    // TLS 1.3 tickets can be resumed many times: take new ones (serialised per ticket, and the server
    // sends two per full handshake) only when there is none or it is getting old.
    const remember = (ticket: Buffer): void => {
      session = { ticket, generation, at: Date.now() };
    };
    if (resume && (cached === undefined || Date.now() - cached.at > TICKET_REFRESH_MS)) up.on('session', remember);
    track(options.open, up);
    const timer = setTimeout(() => {
      up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    }, options.connectTimeoutMs);
    // Bytes flow only after the handshake: ending a TLS socket that is still handshaking would send
    // its FIN too early. Until then the accepted socket buffers what the application sends.
    const early = (): void => {
      up.destroy();
    };
    down.once('close', early);
    down.once('error', early);
    let secured = false;
    up.once('secureConnect', () => {
      secured = true;
      clearTimeout(timer);
      const resumed = up.isSessionReused();
      const group = negotiatedGroup(up) ?? 'none';
      stats.handshaked(group);
      options.events.handshake({ listener: stats.listener, remote, protocol: up.getProtocol(), group, resumed });
      if (resumed) stats.sessionsResumed += 1;
      // The remote did not take our ticket (say, it restarted with new ticket keys): TLS 1.3 tickets
      // arrive after the handshake, so listening now still catches this connection's.
      else if (resume && up.listenerCount('session') === 0) up.on('session', remember);
      down.off('close', early);
      down.off('error', early);
      forward(down, up, options.idleTimeoutMs);
    });
    up.once('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      if (!secured) {
        session = undefined;
        remoteFailed(options, down, err.code ?? err.message);
      }
      down.destroy();
    });
  });
}
