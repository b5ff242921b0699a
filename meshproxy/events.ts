/**
 * Connection events that operators must see, as log lines that a flood cannot multiply: at most one
 * line per listener and class every `intervalMs` (default 10 s); the next line says how many were left
 * out in between (`suppressed`). Counters count every event; the log shows that it happens and one
 * example with the listener, the peer, the original destination and the reason.
 *
 * - WARN `connection failed`: the proxy could not carry a connection that it accepted (the app or a
 *   remote refused or timed out, DNS failed, the remote's certificate is not from the mesh CA).
 * - WARN `pending handshakes over the limit, dropped the oldest`: unauthenticated connections shed.
 * - WARN `accepting a connection failed`: the listener could not accept (e.g. EMFILE).
 * - DEBUG `TLS handshake`: every completed handshake with its negotiated group (not rate-limited).
 * - INFO `connection refused`: a peer that is not a mesh client (no certificate, unknown CA, expired,
 *   plaintext, handshake timeout, closed before the handshake).
 */
import type { Logger } from '../lib/log.js';

export interface ConnectionContext {
  readonly listener: string;
  readonly direction: 'ingress' | 'egress';
  /** `address:port` of the downstream peer. */
  readonly peer: string;
  /** `address:port` the peer wanted to reach (ingress) or the remote (egress). */
  readonly destination: string;
}

export class MeshEvents {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  failed(ctx: ConnectionContext, reason: string): void {
    this.emit(
      'warn',
      `${ctx.listener}\0failed\0${reason.split(':')[0] ?? ''}`,
      { ...ctx, reason },
      'connection failed',
    );
  }

  refused(ctx: ConnectionContext, reason: string, detail?: string): void {
    this.emit(
      'info',
      `${ctx.listener}\0refused\0${reason}`,
      { ...ctx, reason, ...(detail === undefined ? {} : { detail }) },
      'connection refused',
    );
  }

  shed(ctx: ConnectionContext, pending: number, limit: number): void {
    this.emit(
      'warn',
      `${ctx.listener}\0shed`,
      { ...ctx, reason: 'overload', pending, limit },
      'pending handshakes over the limit, dropped the oldest',
    );
  }

  acceptFailed(listener: string, err: string): void {
    this.emit('warn', `${listener}\0accept`, { listener, reason: err }, 'accepting a connection failed');
  }

  /** DEBUG `TLS handshake`, every completed one (debug is for looking closely, so not rate-limited). */
  handshake(fields: Record<string, unknown>): void {
    if (this.log.isLevelEnabled('debug')) this.log.debug(fields, 'TLS handshake');
  }

  private emit(level: 'warn' | 'info', key: string, fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const state = this.last.get(key);
    if (state !== undefined && t - state.at < this.intervalMs) {
      state.suppressed += 1;
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    this.last.set(key, { at: t, suppressed: 0 });
    this.log[level](suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }
}

/** `address:port`, IPv6 in brackets. */
export function endpoint(address: string | undefined, port: number | undefined): string {
  const a = address ?? '?';
  return `${a.includes(':') ? `[${a}]` : a}:${port ?? 0}`;
}
