/**
 * Typed face of the addon's TLS client session (native/src/tls.c).
 *
 * A session is a pure state machine on memory buffers: callers feed received ciphertext, drain
 * ciphertext to send, and read/write plaintext. The handshake pauses with `want_cert` when the server
 * asks for a client certificate; the caller then reads `caNames()`, builds a certificate, and calls
 * `setCertificate()` (or `declineCertificate()`) before driving the handshake again.
 */
import { loadAddon } from './addon.js';
import { ContrastError, errorCode } from '../errors.js';

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';
export type HandshakeStatus = 'done' | 'want_read' | 'want_cert';

export interface TlsSessionOptions {
  /** SNI host name (1..255 bytes); omitted: no SNI. */
  readonly serverName?: string;
  /** ALPN protocols in preference order. */
  readonly alpn?: readonly string[];
  readonly minVersion?: TlsVersion;
  readonly maxVersion?: TlsVersion;
  /** Key-exchange groups, an OpenSSL groups list (lib/tls-groups.ts); omitted: OpenSSL's default. */
  readonly groups?: string;
}

export interface TlsSessionInfo {
  readonly version: string | null;
  readonly cipher: string | null;
  /** Negotiated key-exchange group as OpenSSL names it (X25519MLKEM768, x25519, secp256r1), null before. */
  readonly group: string | null;
  readonly alpn: string | null;
  readonly certificateRequested: boolean;
  readonly peerCertificate: Buffer | null;
}

type Handle = object & { readonly __tls: unique symbol };

interface TlsAddon {
  tlsClientCreate(opts: {
    serverName?: string;
    alpn?: Buffer;
    minVersion: number;
    maxVersion: number;
    groups?: string;
  }): Handle;
  tlsFeed(h: Handle, data: Buffer): void;
  tlsFeedEof(h: Handle): void;
  tlsTakeOutput(h: Handle): Buffer | null;
  tlsHandshake(h: Handle): HandshakeStatus;
  tlsCANames(h: Handle): Buffer[];
  tlsSetCertificate(h: Handle, certDer: Buffer, keyDer: Buffer): void;
  tlsDeclineCertificate(h: Handle): void;
  tlsRead(h: Handle): Buffer | null;
  tlsWrite(h: Handle, data: Buffer): number;
  tlsShutdown(h: Handle): void;
  tlsInfo(h: Handle): TlsSessionInfo;
  tlsFree(h: Handle): void;
}

/** Codes thrown by the native layer, kept as they are. */
export type NativeTlsCode =
  | 'ERR_TLS_ALERT_RECEIVED'
  | 'ERR_TLS_UNEXPECTED_EOF'
  | 'ERR_TLS_PROTOCOL'
  | 'ERR_TLS_CERTIFICATE'
  | 'ERR_TLS_STATE'
  | 'ERR_TLS_INVALID_ARG';

export class NativeTlsError extends ContrastError {
  readonly code: NativeTlsCode;
  /** TLS alert number when the peer sent an alert (e.g. 42 bad_certificate, 116 certificate_required). */
  readonly alert: number | undefined;

  constructor(code: NativeTlsCode, message: string, alert?: number) {
    super(message);
    this.code = code;
    this.alert = alert;
  }
}

const VERSIONS: Readonly<Record<TlsVersion, number>> = { 'TLSv1.2': 0x0303, 'TLSv1.3': 0x0304 };

/** ALPN wire format: each protocol as a length byte followed by its bytes. */
export function encodeAlpn(protocols: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of protocols) {
    const bytes = Buffer.from(p, 'latin1');
    if (bytes.length === 0 || bytes.length > 255)
      throw new NativeTlsError('ERR_TLS_INVALID_ARG', `ALPN protocol ${JSON.stringify(p)}: expected 1..255 bytes`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  return Buffer.concat(parts);
}

function translate(err: unknown): never {
  if (err instanceof Error) {
    const code = errorCode(err);
    if (code?.startsWith('ERR_TLS_') === true) {
      const alert = (err as { alert?: unknown }).alert;
      throw new NativeTlsError(code as NativeTlsCode, err.message, typeof alert === 'number' ? alert : undefined);
    }
  }
  throw err;
}

/** One TLS client session. Call `free()` when done (or let the garbage collector do it). */
export class NativeTlsSession {
  readonly #addon: TlsAddon;
  readonly #handle: Handle;
  #freed = false;

  constructor(options: TlsSessionOptions = {}) {
    this.#addon = loadAddon<TlsAddon>();
    const opts: { serverName?: string; alpn?: Buffer; minVersion: number; maxVersion: number; groups?: string } = {
      minVersion: VERSIONS[options.minVersion ?? 'TLSv1.2'],
      maxVersion: VERSIONS[options.maxVersion ?? 'TLSv1.3'],
    };
    if (options.serverName !== undefined) opts.serverName = options.serverName;
    if (options.groups !== undefined) opts.groups = options.groups;
    if (options.alpn !== undefined && options.alpn.length > 0) opts.alpn = encodeAlpn(options.alpn);
    try {
      this.#handle = this.#addon.tlsClientCreate(opts);
    } catch (err) {
      translate(err);
    }
  }

  #call<T>(fn: () => T): T {
    if (this.#freed) throw new NativeTlsError('ERR_TLS_STATE', 'TLS session already freed');
    try {
      return fn();
    } catch (err) {
      translate(err);
    }
  }

  feed(ciphertext: Buffer): void {
    this.#call(() => {
      this.#addon.tlsFeed(this.#handle, ciphertext);
    });
  }

  feedEof(): void {
    this.#call(() => {
      this.#addon.tlsFeedEof(this.#handle);
    });
  }

  takeOutput(): Buffer | null {
    return this.#call(() => this.#addon.tlsTakeOutput(this.#handle));
  }

  handshake(): HandshakeStatus {
    return this.#call(() => this.#addon.tlsHandshake(this.#handle));
  }

  /** DER-encoded distinguished names from the server's CertificateRequest. */
  caNames(): Buffer[] {
    return this.#call(() => this.#addon.tlsCANames(this.#handle));
  }

  setCertificate(certDer: Buffer, keyPkcs8Der: Buffer): void {
    this.#call(() => {
      this.#addon.tlsSetCertificate(this.#handle, certDer, keyPkcs8Der);
    });
  }

  declineCertificate(): void {
    this.#call(() => {
      this.#addon.tlsDeclineCertificate(this.#handle);
    });
  }

  /** Plaintext available now (empty: need more input); null once the peer sent close_notify. */
  read(): Buffer | null {
    return this.#call(() => this.#addon.tlsRead(this.#handle));
  }

  write(plaintext: Buffer): number {
    return this.#call(() => this.#addon.tlsWrite(this.#handle, plaintext));
  }

  shutdown(): void {
    this.#call(() => {
      this.#addon.tlsShutdown(this.#handle);
    });
  }

  info(): TlsSessionInfo {
    return this.#call(() => this.#addon.tlsInfo(this.#handle));
  }

  get freed(): boolean {
    return this.#freed;
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#addon.tlsFree(this.#handle);
  }
}
