/**
 * Ingress: TLS termination in front of the application.
 *
 * Roles: `mtls` (15006 and unlisted ports) requires a client certificate that chains to the mesh CA;
 * `tls` (15007, ports marked `#false`) asks for one but accepts clients without, and rejects a presented
 * certificate that fails verification (as Envoy does). Plaintext goes to the connection's original
 * destination (with TPROXY the accepted socket's local address) or, in explicit mode, to
 * 127.0.0.1:<app port>. A connection whose destination is a proxy port itself is closed at once (loop
 * guard), before any TLS.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from '../lib/log.js';
import type { CertStore } from './certs.js';
import type { RenewalRequester } from './renewal-request.js';
import { account, forward, track, type OpenSockets } from './forward.js';
import type { ListenerStats } from './stats.js';

export type IngressRole = 'mtls' | 'tls';

export interface IngressOptions {
  readonly role: IngressRole;
  readonly certs: CertStore;
  readonly stats: ListenerStats;
  readonly log: Logger;
  /** Where the plaintext goes for an accepted downstream socket. */
  readonly target: (accepted: Socket) => { host: string; port: number };
  /** Destination ports that must never be proxied (the proxy's own ports). */
  readonly loopGuardPorts: ReadonlySet<number>;
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly open: OpenSockets;
  /** Told about handshake failures, to request a renewal on unknown-CA peers. */
  readonly renewal?: RenewalRequester;
}

export interface IngressListener {
  /** A new accepting server for this role (one per address family); call listen() on it. */
  newServer(): Server;
  /** Applies the store's current certificates to new handshakes. */
  refresh(): void;
}

export function createIngress(options: IngressOptions): IngressListener {
  const { stats, role } = options;
  const tls = new TlsServer({
    ...options.certs.tlsOptions,
    requestCert: true,
    rejectUnauthorized: false,
    handshakeTimeout: options.handshakeTimeoutMs,
  });
  tls.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    stats.handshakeFailed(err.code ?? 'HANDSHAKE_ERROR');
    options.renewal?.failed(err.code, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
    stats.connectionsActive -= 1;
  });
  tls.on('secureConnection', (down: TLSSocket) => {
    if (!authorized(down, role, stats)) {
      if (!down.authorized) options.renewal?.failed(String(down.authorizationError), `${down.remoteAddress ?? '?'}:${down.remotePort ?? '?'}`);
      down.destroy();
      stats.connectionsActive -= 1;
      return;
    }
    if (down.isSessionReused()) stats.sessionsResumed += 1;
    account(down, stats);
    track(options.open, down);
    const dest = options.target(down);
    const up = connect({ host: dest.host, port: dest.port, allowHalfOpen: true, noDelay: true });
    track(options.open, up);
    const timer = setTimeout(() => { up.destroy(new Error('connect timeout')); }, options.connectTimeoutMs);
    up.once('connect', () => { clearTimeout(timer); });
    up.once('error', () => {
      clearTimeout(timer);
      if (up.bytesWritten === 0) stats.upstreamConnectFailures += 1;
    });
    // A plain socket may be written and ended while it connects: forward at once.
    forward(down, up, options.idleTimeoutMs);
  });
  const accept = (raw: Socket): void => {
    stats.connectionsTotal += 1;
    if (options.loopGuardPorts.has(raw.localPort ?? 0)) {
      stats.blackholed += 1;
      raw.destroy();
      return;
    }
    stats.connectionsActive += 1;
    tls.emit('connection', raw);
  };
  return {
    newServer: () => createServer({ allowHalfOpen: true, noDelay: true }, accept),
    refresh() {
      tls.setSecureContext(options.certs.tlsOptions);
      // Tickets resume without verifying the client again: none may outlive the trust they were made under.
      tls.setTicketKeys(randomBytes(48));
    },
  };
}

/** Envoy's rule: mtls needs a verified certificate; tls accepts none but not a bad one. */
function authorized(socket: TLSSocket, role: IngressRole, stats: ListenerStats): boolean {
  if (socket.authorized) return true;
  const presented = socket.getPeerX509Certificate() !== undefined;
  if (!presented && role === 'tls') return true;
  stats.handshakeFailed(presented ? socket.authorizationError.toString() : 'NO_CLIENT_CERTIFICATE');
  return false;
}
