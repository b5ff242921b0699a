/**
 * Ingress: TLS termination in front of the application.
 *
 * Roles: `mtls` (15006 and unlisted ports) requires a client certificate that chains to the mesh CA;
 * `tls` (15007, ports marked `#false`) asks for one but accepts clients without, and rejects a presented
 * certificate that fails verification (as Envoy does). Plaintext goes to the connection's original
 * destination (with TPROXY the accepted socket's local address) or, in explicit mode, to
 * 127.0.0.1:<app port>. A connection whose destination is a proxy port itself is closed at once (loop
 * guard), before any TLS.
 *
 * Until its handshake completes a connection is a stranger, and strangers must not be able to hold
 * the proxy's file descriptors: every pre-handshake failure, timeout and peer FIN closes the socket;
 * the handshake timeout is a deadline from accept (a peer trickling a ClientHello byte by byte does not
 * extend it); and each listener keeps at most `maxPendingHandshakes` of them, dropping the oldest first
 * (a mesh client's handshake takes milliseconds, so the oldest are the stalled ones). Refused and
 * dropped connections are reset (RST), which leaves no TIME_WAIT socket behind.
 *
 * Two data paths share these rules: Node's TLS server below, or (dataPath `native`) the addon's relay
 * in ingress-native.ts, which gets each accepted socket paused and hands it to C.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { RelayContext } from '../lib/native/relay.js';
import { negotiatedGroup } from '../lib/tls-groups.js';
import type { CertStore } from './certs.js';
import type { DataPath } from './config.js';
import { endpoint, type ConnectionContext, type MeshEvents } from './events.js';
import { countBytes, forward, track, type OpenSockets } from './forward.js';
import {
  authorize,
  classifyHandshakeError,
  ingressContext,
  reset,
  type IngressRole,
  type RefusalReason,
} from './admission.js';
import { acceptNative } from './ingress-native.js';
import type { RenewalRequester } from './renewal-request.js';
import type { ListenerStats } from './stats.js';

export type { IngressRole, RefusalReason } from './admission.js';

export interface IngressOptions {
  readonly role: IngressRole;
  readonly certs: CertStore;
  readonly stats: ListenerStats;
  readonly events: MeshEvents;
  /** Where the plaintext goes for an accepted downstream socket. */
  readonly target: (accepted: Socket) => { host: string; port: number };
  /** Destination ports that must never be proxied (the proxy's own ports). */
  readonly loopGuardPorts: ReadonlySet<number>;
  readonly handshakeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly open: OpenSockets;
  /** Told about handshake failures, to request a renewal on unknown-CA peers. */
  readonly renewal?: RenewalRequester;
  /** `native`: TLS and the byte pump in the addon (lib/native/relay.ts); default `node`. */
  readonly dataPath?: DataPath;
}

export interface IngressListener {
  /** A new accepting server for this role (one per address family); call listen() on it. */
  newServer(): Server;
  /** Applies the store's current certificates to new handshakes. */
  refresh(): void;
  /**
   * Draining: connections still in their handshake get at most DRAIN_HANDSHAKE_GRACE_MS more to finish
   * it (mesh clients do; strangers are then reset, not waited for).
   */
  shortenPending(): void;
}

interface Pending {
  readonly ctx: ConnectionContext;
  readonly timer: NodeJS.Timeout;
  /** Date.now() when the handshake deadline passes. */
  readonly deadline: number;
  /** Closes the connection with a TCP reset. */
  readonly reset: () => void;
}

/**
 * While draining, how long a connection still in its handshake may take to finish it. A mesh client's
 * TLS 1.3 handshake takes milliseconds, but the client counts itself connected one flight before the
 * proxy does, so a SIGTERM in between must not reset it; a stranger is reset after this at the latest.
 */
export const DRAIN_HANDSHAKE_GRACE_MS = 2000;

export function createIngress(options: IngressOptions): IngressListener {
  const { stats, role, events } = options;
  /** Connections in their handshake, oldest first (Map keeps insertion order): raw sockets or relays. */
  const pending = new Map<object, Pending>();
  const native = options.dataPath === 'native';
  const serverContext = (): RelayContext => {
    const f = options.certs.tlsOptions;
    return new RelayContext('server', { cert: f.cert, key: f.key, ca: f.ca, groups: f.ecdhCurve });
  };
  let relayContext = native ? serverContext() : undefined;
  const tls = new TlsServer({
    ...options.certs.tlsOptions,
    requestCert: true,
    rejectUnauthorized: false,
    // Node's own timer is an idle timer (activity re-arms it); the deadline below is absolute.
    handshakeTimeout: options.handshakeTimeoutMs,
  });

  const settle = (key: object): Pending | undefined => {
    const p = pending.get(key);
    if (p === undefined) return undefined;
    clearTimeout(p.timer);
    pending.delete(key);
    stats.pendingHandshakes -= 1;
    return p;
  };
  /** Refuses a stranger: counted, logged (rate-limited), reset. */
  const refuse = (key: object, reason: RefusalReason, detail?: string): void => {
    const p = settle(key);
    if (p === undefined) return;
    stats.refusedFor(reason);
    if (reason === 'overload') events.shed(p.ctx, pending.size + 1, options.maxPendingHandshakes);
    else events.refused(p.ctx, reason, detail);
    p.reset();
  };
  /** A new stranger, with its handshake deadline; over the limit the oldest is dropped. */
  const add = (key: object, ctx: ConnectionContext, resetKey: () => void): void => {
    const timer = setTimeout(() => {
      refuse(key, 'handshake_timeout');
    }, options.handshakeTimeoutMs);
    pending.set(key, { ctx, timer, deadline: Date.now() + options.handshakeTimeoutMs, reset: resetKey });
    stats.pendingHandshakes += 1;
    if (pending.size > options.maxPendingHandshakes) {
      const oldest = pending.keys().next().value;
      if (oldest !== undefined) refuse(oldest, 'overload');
    }
  };

  tls.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    const raw = parentOf(socket);
    const code = err.code ?? 'HANDSHAKE_ERROR';
    if (code !== 'ECONNRESET' && code !== 'ERR_TLS_HANDSHAKE_TIMEOUT') stats.handshakeFailed(code);
    options.renewal?.failed(
      err.code,
      endpoint(socket.remoteAddress ?? raw?.remoteAddress, socket.remotePort ?? raw?.remotePort),
    );
    if (raw !== undefined) refuse(raw, classifyHandshakeError(code), code);
    socket.destroy();
  });
  tls.on('secureConnection', (down: TLSSocket) => {
    const raw = parentOf(down);
    const p = raw === undefined ? undefined : settle(raw);
    if (raw === undefined || p === undefined) {
      down.destroy();
      return;
    }
    const verdict = authorize(role, {
      authorized: down.authorized,
      presented: () => down.getPeerX509Certificate() !== undefined,
      code: String(down.authorizationError),
    });
    if (verdict !== undefined) {
      if (!down.authorized) options.renewal?.failed(String(down.authorizationError), p.ctx.peer);
      stats.handshakeFailed(verdict.code);
      stats.refusedFor(verdict.reason);
      events.refused(p.ctx, verdict.reason, verdict.code);
      reset(raw);
      return;
    }
    // From here on a FIN is a half-close to pass on, not a stranger leaving.
    down.allowHalfOpen = true;
    const resumed = down.isSessionReused();
    if (resumed) stats.sessionsResumed += 1;
    const group = negotiatedGroup(down) ?? 'none';
    stats.handshaked(group);
    events.handshake({ listener: stats.listener, peer: p.ctx.peer, protocol: down.getProtocol(), group, resumed });
    countBytes(down, stats);
    track(options.open, down);
    const dest = options.target(down);
    const up = connect({ host: dest.host, port: dest.port, allowHalfOpen: true, noDelay: true });
    track(options.open, up);
    let connected = false;
    const timer = setTimeout(() => {
      up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    }, options.connectTimeoutMs);
    up.once('connect', () => {
      connected = true;
      clearTimeout(timer);
    });
    up.once('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      if (connected) return;
      stats.upstreamConnectFailures += 1;
      events.failed(
        { ...p.ctx, destination: endpoint(dest.host, dest.port) },
        `upstream connect: ${err.code ?? err.message}`,
      );
    });
    // A plain socket may be written and ended while it connects: forward at once.
    forward(down, up, options.idleTimeoutMs);
  });

  const accept = (raw: Socket): void => {
    stats.connectionsTotal += 1;
    if (options.loopGuardPorts.has(raw.localPort ?? 0)) {
      stats.blackholed += 1;
      reset(raw);
      return;
    }
    stats.connectionsActive += 1;
    if (relayContext !== undefined) {
      acceptNative(raw, relayContext, { ...options, pending: { add, settle, refuse } });
      return;
    }
    raw.once('close', () => {
      stats.connectionsActive -= 1;
      // Still pending: the peer closed (FIN or RST) before its handshake; Node reports that late, if at all.
      const p = settle(raw);
      if (p === undefined) return;
      stats.refusedFor('closed_before_handshake');
      events.refused(p.ctx, 'closed_before_handshake');
    });
    raw.on('error', () => {
      /* the close that follows does the accounting */
    });
    const dest = options.target(raw);
    const ctx = ingressContext(stats.listener, raw, dest);
    add(raw, ctx, () => {
      reset(raw);
    });
    if (raw.destroyed) return;
    tls.emit('connection', raw);
  };

  return {
    // allowHalfOpen off: a FIN before the handshake ends the connection (Node then reports ECONNRESET).
    // Native: the relay takes the descriptor over, so Node must not start reading it.
    newServer: () => {
      const server = createServer({ allowHalfOpen: false, noDelay: true, pauseOnConnect: native }, accept);
      server.on('error', (err: Error & { code?: string }) => {
        if (!server.listening) return;
        stats.acceptErrors += 1;
        events.acceptFailed(stats.listener, err.code ?? err.message);
      });
      return server;
    },
    refresh() {
      // A new SSL_CTX has new ticket keys too.
      if (native) relayContext = serverContext();
      tls.setSecureContext(options.certs.tlsOptions);
      // Tickets resume without verifying the client again: none may outlive the trust they were made under.
      tls.setTicketKeys(randomBytes(48));
    },
    shortenPending() {
      const until = Date.now() + Math.min(DRAIN_HANDSHAKE_GRACE_MS, options.handshakeTimeoutMs);
      for (const [raw, p] of pending) {
        if (p.deadline <= until) continue;
        clearTimeout(p.timer);
        // Same key: the map keeps its oldest-first order.
        pending.set(raw, {
          ctx: p.ctx,
          reset: p.reset,
          deadline: until,
          timer: setTimeout(() => {
            refuse(raw, 'handshake_timeout');
          }, until - Date.now()),
        });
      }
    },
  };
}

/** The accepted TCP socket under a server-side TLSSocket (Node keeps it as `_parent`). */
function parentOf(socket: TLSSocket): Socket | undefined {
  const parent = (socket as unknown as { _parent?: unknown })._parent;
  return parent !== null && typeof parent === 'object' && 'resetAndDestroy' in parent ? (parent as Socket) : undefined;
}
