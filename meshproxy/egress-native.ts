/**
 * Egress on the native data path (CONTRAST_MESHPROXY_DATA_PATH=native): Node accepts the app's plain
 * connection (paused) and connects to the remote; the addon's relay runs the TLS client handshake on
 * that socket, and once the remote's certificate has verified against the mesh CA it takes the app's
 * socket over and moves the bytes in C. Same rules as egress.ts: our chain as the client certificate,
 * no SNI, no hostname check. Sessions: the relay context keeps the newest ticket from the remote and
 * offers it on the next connection; a new certificate generation or a failed handshake starts afresh.
 */
import { connect, createServer, type Server } from 'node:net';
import { RelayConnection, RelayContext } from '../lib/native/relay.js';
import { tlsGroupName } from '../lib/tls-groups.js';
import { formatHostPort } from './config-annotations.js';
import { remoteFailed, type EgressOptions } from './egress-options.js';

export function createNativeEgress(options: EgressOptions): Server {
  const { stats, certs } = options;
  const { host, port } = options.entry.remote;
  const remote = formatHostPort(options.entry.remote);
  const resume = options.resumeSessions ?? true;
  let context: { relay: RelayContext; generation: number } | undefined;
  const currentContext = (): RelayContext => {
    if (context?.generation !== certs.generation) {
      const f = certs.tlsOptions;
      const material = { cert: f.cert, key: f.key, ca: f.ca, groups: f.ecdhCurve };
      context = { relay: new RelayContext('client', material, { resume }), generation: certs.generation };
    }
    return context.relay;
  };

  // Paused: the relay takes the accepted socket's descriptor over once the remote is verified.
  return createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (down) => {
    stats.connectionsTotal += 1;
    stats.connectionsActive += 1;
    let relay: RelayConnection | undefined;
    let ended = false;
    /** Exactly once per accepted connection: the gauge, the bytes and the drain set. */
    const end = (fromTls = 0, toTls = 0): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      stats.connectionsActive -= 1;
      stats.bytesReceived += toTls;
      stats.bytesSent += fromTls;
      options.open.delete(handle);
      down.destroy();
    };
    const fail = (code: string): void => {
      if (ended) return;
      context = undefined; // its ticket may be what the remote refused
      remoteFailed(options, down, code);
    };
    const up = connect({ host, port, noDelay: true });
    const handle = {
      destroy: (): void => {
        up.destroy();
        if (relay === undefined) end();
        else relay.destroy();
      },
    };
    options.open.add(handle);
    const timer = setTimeout(() => {
      fail('ETIMEDOUT');
      handle.destroy();
    }, options.connectTimeoutMs);
    up.once('error', (err: Error & { code?: string }) => {
      fail(err.code ?? err.message);
      end();
    });
    up.once('connect', () => {
      let started: RelayConnection;
      try {
        started = new RelayConnection(currentContext(), up, {
          handshake: (info) => {
            clearTimeout(timer);
            if (!info.peerCertificate || info.verifyError !== 0) {
              fail(info.verifyCode ?? 'ERR_TLS_NO_PEER_CERTIFICATE');
              started.destroy();
              return;
            }
            if (info.resumed) stats.sessionsResumed += 1;
            const group = info.group === null ? 'none' : tlsGroupName(info.group);
            stats.handshaked(group);
            options.events.handshake({
              listener: stats.listener,
              remote,
              protocol: info.protocol,
              group,
              resumed: info.resumed,
            });
            try {
              started.attach(down, options.idleTimeoutMs);
            } catch (err) {
              fail(`native relay: ${(err as Error).message}`);
              started.destroy();
            }
          },
          error: ({ code }) => {
            fail(code);
          },
          close: (info) => {
            end(info.fromTls, info.toTls);
          },
        });
      } catch (err) {
        fail(`native relay: ${(err as Error).message}`);
        up.destroy();
        end();
        return;
      }
      relay = started;
    });
  });
}
