/**
 * The native TLS relay, the typed face of native/src/relay.c: a TLS session on one socket and its
 * plaintext partner on another, pumped in C on Node's own event loop with the OpenSSL Node exports.
 *
 * A connection starts from a connected Node socket: its descriptor is duplicated into the relay and the
 * Node socket is destroyed (the caller must have kept it from reading: `pauseOnConnect`, or straight from
 * its 'connect' event). The handshake runs at once; `handshake` reports the result (peer verification
 * never aborts it: the caller decides, then `attach()`es the plaintext socket or `destroy()`s). `close`
 * always comes last, once, asynchronously.
 */
import { DEFAULT_CIPHERS } from 'node:tls';
import type { Socket } from 'node:net';
import { ContrastError } from '../errors.js';
import { loadAddon } from './addon.js';
import { socketFd } from './sockets.js';

interface RelayAddon {
  relayContext(options: {
    server: boolean;
    cert: Buffer;
    key: Buffer;
    ca: Buffer;
    groups: string;
    ciphers: string;
    ciphersuites: string;
    resume: boolean;
  }): object;
  relayStart(context: object, fd: number, onEvent: (kind: string, info: unknown) => void): object;
  relayAttach(connection: object, fd: number, idleMs: number): void;
  relayDestroy(connection: object, reset: boolean): void;
}

/** The relay could not be set up: bad material, or a socket without a descriptor. */
export class RelayError extends ContrastError {
  readonly code = 'ERR_RELAY';
}

export interface RelayMaterial {
  /** PEM chain, leaf first. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** PEM trust anchors (one or more). */
  readonly ca: Buffer;
  /** An OpenSSL groups list (CONTRAST_TLS_GROUPS). */
  readonly groups: string;
}

export interface RelayHandshake {
  /** `TLSv1.3`, `TLSv1.2`. */
  readonly protocol: string;
  /** OpenSSL's name of the key-exchange group (`X25519MLKEM768`, `x25519`, `secp256r1`), null if none. */
  readonly group: string | null;
  readonly resumed: boolean;
  /** The peer's certificate verification: 0 = verified, else OpenSSL's X509_V_ERR_ number. */
  readonly verifyError: number;
  /** Node's name for verifyError (`CERT_HAS_EXPIRED`, `UNABLE_TO_GET_ISSUER_CERT_LOCALLY`, ...), null if verified. */
  readonly verifyCode: string | null;
  readonly peerCertificate: boolean;
}

export interface RelayClose {
  /** done: both directions finished; idle: no traffic for idleMs; error: a socket or TLS error; destroyed: destroy(). */
  readonly reason: 'done' | 'idle' | 'error' | 'destroyed';
  readonly code: string | null;
  /** Plaintext bytes received from the TLS peer and sent to it. */
  readonly fromTls: number;
  readonly toTls: number;
}

export interface RelayEvents {
  handshake(info: RelayHandshake): void;
  /** The handshake failed (`code` as Node names it: ERR_SSL_..., ECONNRESET); `close` follows. */
  error(info: { code: string; message: string }): void;
  close(info: RelayClose): void;
}

let addon: RelayAddon | undefined;
function relayAddon(): RelayAddon {
  addon ??= loadAddon<RelayAddon>();
  return addon;
}

/** Node's default cipher list, split the way OpenSSL takes it (TLS 1.3 suites apart). */
const CIPHERS = DEFAULT_CIPHERS.split(':');
const TLS13_SUITES = CIPHERS.filter((c) => c.startsWith('TLS_')).join(':');
const TLS12_CIPHERS = CIPHERS.filter((c) => !c.startsWith('TLS_')).join(':');

/** One SSL_CTX: certificates, trust anchors, groups; for a client also the newest session ticket. */
export class RelayContext {
  readonly handle: object;

  constructor(role: 'server' | 'client', material: RelayMaterial, options: { resume?: boolean } = {}) {
    try {
      this.handle = relayAddon().relayContext({
        server: role === 'server',
        cert: material.cert,
        key: material.key,
        ca: material.ca,
        groups: material.groups,
        ciphers: TLS12_CIPHERS,
        ciphersuites: TLS13_SUITES,
        resume: options.resume ?? false,
      });
    } catch (err) {
      throw new RelayError(`native relay ${role} context: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** The socket's descriptor, or a RelayError naming which side had none. */
function takeFd(socket: Socket, what: string): number {
  try {
    return socketFd(socket);
  } catch (err) {
    throw new RelayError(`native relay: the ${what} socket has no descriptor`, { cause: err });
  }
}

export class RelayConnection {
  private readonly handle: object;
  private closed = false;

  /** Takes over `socket` (connected, not reading) as the TLS side and starts the handshake. */
  constructor(context: RelayContext, socket: Socket, events: RelayEvents) {
    const onEvent = (kind: string, info: unknown): void => {
      if (kind === 'handshake') events.handshake(info as RelayHandshake);
      else if (kind === 'error') events.error(info as { code: string; message: string });
      else if (kind === 'close') {
        this.closed = true;
        events.close(info as RelayClose);
      }
    };
    this.handle = relayAddon().relayStart(context.handle, takeFd(socket, 'TLS'), onEvent);
    socket.destroy();
  }

  /** After `handshake`: takes over `socket` (connected, not reading) as the plaintext side. */
  attach(socket: Socket, idleMs: number): void {
    const fd = takeFd(socket, 'plaintext');
    try {
      relayAddon().relayAttach(this.handle, fd, idleMs);
    } finally {
      socket.destroy();
    }
  }

  /** Closes both sides (with a TCP reset of the TLS side if `reset`); `close` follows. */
  destroy(reset = false): void {
    if (this.closed) return;
    relayAddon().relayDestroy(this.handle, reset);
  }
}
