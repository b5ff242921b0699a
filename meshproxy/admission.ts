/**
 * Who may pass an ingress listener, shared by both data paths: the refusal reasons, Envoy's admission
 * rule for a finished handshake, the classification of handshake failures, the pending-handshake
 * bookkeeping's interface, and the reset that refuses.
 */
import type { Socket } from 'node:net';
import { endpoint, type ConnectionContext } from './events.js';

/** The log context of an accepted ingress connection bound for `dest`. */
export function ingressContext(listener: string, raw: Socket, dest: { host: string; port: number }): ConnectionContext {
  return {
    listener,
    direction: 'ingress',
    peer: endpoint(raw.remoteAddress, raw.remotePort),
    destination: endpoint(dest.host, dest.port),
  };
}

export type IngressRole = 'mtls' | 'tls';

/** Why a stranger was refused; the `reason` label of meshproxy_refused_total. */
export type RefusalReason =
  | 'no_client_certificate'
  | 'unknown_ca'
  | 'expired'
  | 'bad_certificate'
  | 'plaintext'
  | 'tls_error'
  | 'handshake_timeout'
  | 'closed_before_handshake'
  | 'overload';

/** The handshakes in flight of one listener, as the native path sees them (keys are its connections). */
export interface PendingHandshakes {
  add(key: object, ctx: ConnectionContext, reset: () => void): void;
  /** Removes the entry, if still there. */
  settle(key: object): { readonly ctx: ConnectionContext } | undefined;
  /** Refuses a stranger: counted, logged (rate-limited), reset. */
  refuse(key: object, reason: RefusalReason, detail?: string): void;
}

/** Closes with RST (no TIME_WAIT socket is left); falls back to a plain destroy. */
export function reset(raw: Socket): void {
  if (raw.destroyed) return;
  try {
    raw.resetAndDestroy();
  } catch {
    raw.destroy();
  }
}

const NOT_TLS =
  /HTTP_REQUEST|HTTPS_PROXY_REQUEST|WRONG_VERSION_NUMBER|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE|UNSUPPORTED_PROTOCOL/;

export function classifyHandshakeError(code: string): RefusalReason {
  if (code === 'ECONNRESET') return 'closed_before_handshake';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'handshake_timeout';
  if (NOT_TLS.test(code)) return 'plaintext';
  return 'tls_error';
}

/** A finished handshake's client certificate: verified, presented at all, and the verification result. */
export interface PeerVerification {
  readonly authorized: boolean;
  readonly presented: () => boolean;
  readonly code: string;
}

/** Envoy's rule: mtls needs a verified certificate; tls accepts none but not a bad one. Undefined: allowed. */
export function authorize(
  role: IngressRole,
  peer: PeerVerification,
): { code: string; reason: RefusalReason } | undefined {
  if (peer.authorized) return undefined;
  if (!peer.presented())
    return role === 'tls' ? undefined : { code: 'NO_CLIENT_CERTIFICATE', reason: 'no_client_certificate' };
  return { code: peer.code, reason: classifyVerifyError(peer.code) };
}

function classifyVerifyError(code: string): RefusalReason {
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'expired';
  if (/ISSUER|SELF_SIGNED|UNABLE_TO_VERIFY_LEAF_SIGNATURE/.test(code)) return 'unknown_ca';
  return 'bad_certificate';
}
