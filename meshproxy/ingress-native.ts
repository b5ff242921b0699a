/**
 * Ingress on the native data path (CONTRAST_MESHPROXY_DATA_PATH=native): the accepted socket is handed
 * to the addon's relay, which runs the TLS handshake and, once the peer is admitted and the app is
 * connected, moves the bytes in C. The policy is ingress.ts's: the same pending-handshake limit and
 * deadline, the same admission rule (authorize), counters and log events.
 */
import { connect, type Socket } from 'node:net';
import { RelayConnection, type RelayContext, type RelayHandshake } from '../lib/native/relay.js';
import { tlsGroupName } from '../lib/tls-groups.js';
import {
  authorize,
  classifyHandshakeError,
  ingressContext,
  reset,
  type IngressRole,
  type PendingHandshakes,
} from './admission.js';
import { endpoint, type MeshEvents } from './events.js';
import type { OpenSockets } from './forward.js';
import type { RenewalRequester } from './renewal-request.js';
import type { ListenerStats } from './stats.js';

/** What the native path needs of an ingress listener (a part of IngressOptions) and its pending set. */
export interface NativeIngressOptions {
  readonly role: IngressRole;
  readonly stats: ListenerStats;
  readonly events: MeshEvents;
  readonly target: (accepted: Socket) => { host: string; port: number };
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly open: OpenSockets;
  readonly renewal?: RenewalRequester;
  readonly pending: PendingHandshakes;
}

/** Takes over an accepted (paused) socket; the caller has counted it in connectionsTotal and connectionsActive. */
export function acceptNative(raw: Socket, context: RelayContext, options: NativeIngressOptions): void {
  const { stats, events, pending } = options;
  const dest = options.target(raw);
  const ctx = ingressContext(stats.listener, raw, dest);
  /** The app connection while it is being made, and its deadline. */
  let up: { socket: Socket; timer: NodeJS.Timeout } | undefined;
  const handle = {
    destroy: (): void => {
      relay.destroy();
    },
  };
  let relay: RelayConnection;
  try {
    relay = new RelayConnection(context, raw, {
      handshake: (info) => {
        admitted(info);
      },
      error: ({ code }) => {
        if (code !== 'ECONNRESET') stats.handshakeFailed(code);
        options.renewal?.failed(code, ctx.peer);
        pending.refuse(relay, classifyHandshakeError(code), code);
      },
      close: (info) => {
        stats.connectionsActive -= 1;
        stats.bytesReceived += info.fromTls;
        stats.bytesSent += info.toTls;
        options.open.delete(handle);
        if (up !== undefined) {
          clearTimeout(up.timer);
          up.socket.destroy();
        }
        // Still pending: destroyed before its handshake without a refusal (a drain's end).
        if (pending.settle(relay) !== undefined) {
          stats.refusedFor('closed_before_handshake');
          events.refused(ctx, 'closed_before_handshake');
        }
      },
    });
  } catch (err) {
    stats.connectionsActive -= 1;
    events.failed(ctx, `native relay: ${(err as Error).message}`);
    reset(raw);
    return;
  }
  options.open.add(handle);
  pending.add(relay, ctx, () => {
    relay.destroy(true);
  });

  const admitted = (info: RelayHandshake): void => {
    if (pending.settle(relay) === undefined) {
      relay.destroy(true);
      return;
    }
    const verdict = authorize(options.role, {
      authorized: info.peerCertificate && info.verifyError === 0,
      presented: () => info.peerCertificate,
      code: info.verifyCode ?? 'UNSPECIFIED',
    });
    if (verdict !== undefined) {
      if (info.verifyCode !== null) options.renewal?.failed(info.verifyCode, ctx.peer);
      stats.handshakeFailed(verdict.code);
      stats.refusedFor(verdict.reason);
      events.refused(ctx, verdict.reason, verdict.code);
      relay.destroy(true);
      return;
    }
    if (info.resumed) stats.sessionsResumed += 1;
    const group = info.group === null ? 'none' : tlsGroupName(info.group);
    stats.handshaked(group);
    events.handshake({
      listener: stats.listener,
      peer: ctx.peer,
      protocol: info.protocol,
      group,
      resumed: info.resumed,
    });
    const app = connect({ host: dest.host, port: dest.port, noDelay: true });
    const timer = setTimeout(() => {
      app.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' }));
    }, options.connectTimeoutMs);
    up = { socket: app, timer };
    app.once('connect', () => {
      clearTimeout(timer);
      up = undefined;
      try {
        relay.attach(app, options.idleTimeoutMs);
      } catch (err) {
        events.failed(
          { ...ctx, destination: endpoint(dest.host, dest.port) },
          `native relay: ${(err as Error).message}`,
        );
        relay.destroy();
      }
    });
    app.once('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      stats.upstreamConnectFailures += 1;
      events.failed(
        { ...ctx, destination: endpoint(dest.host, dest.port) },
        `upstream connect: ${err.code ?? err.message}`,
      );
      relay.destroy();
    });
  };
}
