/**
 * An egress listener's options and the accounting of a remote that failed before its connection was
 * up, shared by both data paths (egress.ts on Node's TLS sockets, egress-native.ts on the relay).
 */
import type { Socket } from 'node:net';
import type { CertStore } from './certs.js';
import { formatHostPort, type EgressEntry } from './config-annotations.js';
import type { DataPath } from './config.js';
import { endpoint, type MeshEvents } from './events.js';
import type { OpenSockets } from './forward.js';
import type { RenewalRequester } from './renewal-request.js';
import type { ListenerStats } from './stats.js';

export interface EgressOptions {
  readonly entry: EgressEntry;
  readonly certs: CertStore;
  readonly stats: ListenerStats;
  readonly events: MeshEvents;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly open: OpenSockets;
  /** Told about handshake failures, to request a renewal on unknown-CA peers. */
  readonly renewal?: RenewalRequester;
  /** Resume TLS sessions with the remote (default); false: a full handshake on every connection. */
  readonly resumeSessions?: boolean;
  /** `native`: TLS and the byte pump in the addon (lib/native/relay.ts); default `node`. */
  readonly dataPath?: DataPath;
}

/** A connection to the remote failed before it was up (connect, DNS, timeout or TLS): counted and logged. */
export function remoteFailed(options: EgressOptions, down: Socket, code: string): void {
  const { stats } = options;
  const remote = formatHostPort(options.entry.remote);
  const tlsFailure = /SSL|CERT|TLS|VERIFY|SIGNATURE|ISSUER/.test(code);
  stats.upstreamConnectFailures += 1;
  if (tlsFailure) stats.handshakeFailed(code);
  options.renewal?.failed(code, remote);
  const ctx = {
    listener: options.entry.name,
    direction: 'egress' as const,
    peer: endpoint(down.remoteAddress, down.remotePort),
    destination: remote,
  };
  options.events.failed(ctx, `${tlsFailure ? 'remote TLS' : /ENOTFOUND|EAI_/.test(code) ? 'DNS' : 'connect'}: ${code}`);
}
