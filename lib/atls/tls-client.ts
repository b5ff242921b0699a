/**
 * A TLS client on top of the addon's OpenSSL session: ciphertext flows between a connected socket and
 * the session; plaintext is exposed as a Duplex (`TlsClientStream`).
 *
 * When the server asks for a client certificate, `onCertificateRequest` receives the acceptable CA
 * names (DER) and returns a certificate and key asynchronously (or null to continue without one); the
 * handshake resumes afterwards. This is what node:tls cannot do.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { NativeTlsSession, NativeTlsError, type TlsVersion, type TlsSessionInfo } from '../native/tls.js';
import { AtlsError } from './errors.js';
import { toError } from '../errors.js';

export interface ClientCertificate {
  /** DER X.509 certificate. */
  readonly certificate: Buffer;
  /** DER PKCS#8 private key. */
  readonly key: Buffer;
}

export interface TlsConnectOptions {
  readonly serverName?: string;
  readonly alpn?: readonly string[];
  readonly minVersion?: TlsVersion;
  readonly maxVersion?: TlsVersion;
  /** Key-exchange groups, an OpenSSL groups list; default OpenSSL's. */
  readonly groups?: string;
  /** Whole-handshake budget, including the time the certificate hook takes. Default 30 s. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  onCertificateRequest?(caNames: Buffer[]): Promise<ClientCertificate | null>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Maps an addon error seen during or right after the handshake to our catalogue. */
function fromNative(err: unknown, phase: 'handshake' | 'stream', sawData: boolean): Error {
  if (!(err instanceof NativeTlsError)) return toError(err);
  const early = phase === 'handshake' || !sawData;
  switch (err.code) {
    case 'ERR_TLS_ALERT_RECEIVED':
      return new AtlsError(
        early ? 'ERR_ATLS_REJECTED' : 'ERR_ATLS_ALERT',
        early ? `server rejected the connection: ${err.message}` : err.message,
        { cause: err },
      );
    case 'ERR_TLS_UNEXPECTED_EOF':
      return new AtlsError(
        early ? 'ERR_ATLS_REJECTED' : 'ERR_ATLS_CONNECTION_CLOSED',
        early
          ? `server closed the connection ${phase === 'handshake' ? 'during the TLS handshake' : 'right after the TLS handshake'} without a TLS alert`
          : err.message,
        { cause: err },
      );
    default:
      return new AtlsError('ERR_ATLS_HANDSHAKE_FAILED', `TLS ${phase}: ${err.message}`, { cause: err });
  }
}

/** Performs the TLS handshake over `socket` (already connected) and resolves with the plaintext stream. */
export function tlsConnect(socket: Socket, options: TlsConnectOptions = {}): Promise<TlsClientStream> {
  return new Promise((resolve, reject) => {
    let session: NativeTlsSession;
    try {
      session = new NativeTlsSession({
        ...(options.serverName === undefined ? {} : { serverName: options.serverName }),
        ...(options.alpn === undefined ? {} : { alpn: options.alpn }),
        ...(options.minVersion === undefined ? {} : { minVersion: options.minVersion }),
        ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
        ...(options.groups === undefined ? {} : { groups: options.groups }),
      });
    } catch (err) {
      socket.destroy();
      reject(toError(err));
      return;
    }
    let settled = false;
    let waitingForCertificate = false;
    let eof = false;

    const flush = (): void => {
      const out = session.takeOutput();
      if (out !== null && socket.writable) socket.write(out);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onClose);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      try {
        flush(); // an alert OpenSSL queued for the server
      } catch {
        // the session is already broken; nothing more to say to the server
      }
      session.free();
      socket.destroy();
      reject(err);
    };
    const step = (): void => {
      if (settled || waitingForCertificate) return;
      try {
        for (;;) {
          const status = session.handshake();
          flush();
          if (status === 'done') {
            settled = true;
            cleanup();
            socket.pause();
            resolve(new TlsClientStream(socket, session, eof));
            return;
          }
          if (status === 'want_read') {
            if (eof)
              fail(fromNative(new NativeTlsError('ERR_TLS_UNEXPECTED_EOF', 'connection closed'), 'handshake', false));
            return;
          }
          waitingForCertificate = true;
          const names = session.caNames();
          const pending =
            options.onCertificateRequest === undefined
              ? Promise.resolve(null)
              : Promise.resolve().then(() => options.onCertificateRequest?.(names) ?? null);
          pending.then(
            (material) => {
              if (settled) return;
              try {
                if (material === null) session.declineCertificate();
                else session.setCertificate(material.certificate, material.key);
              } catch (err) {
                fail(fromNative(err, 'handshake', false));
                return;
              }
              waitingForCertificate = false;
              step();
            },
            (err: unknown) => {
              fail(toError(err));
            },
          );
          return;
        }
      } catch (err) {
        fail(fromNative(err, 'handshake', false));
      }
    };
    const onData = (chunk: Buffer): void => {
      try {
        session.feed(chunk);
      } catch (err) {
        fail(fromNative(err, 'handshake', false));
        return;
      }
      step();
    };
    const onEnd = (): void => {
      eof = true;
      session.feedEof();
      step();
      if (!settled && waitingForCertificate) {
        fail(
          new AtlsError(
            'ERR_ATLS_CONNECTION_CLOSED',
            'server closed the connection while the client certificate was being prepared',
          ),
        );
      }
    };
    const onError = (err: Error): void => {
      fail(
        new AtlsError('ERR_ATLS_CONNECTION_RESET', `connection failed during the TLS handshake: ${err.message}`, {
          cause: err,
        }),
      );
    };
    const onClose = (): void => {
      fail(new AtlsError('ERR_ATLS_CONNECTION_CLOSED', 'connection closed during the TLS handshake'));
    };
    const onAbort = (): void => {
      fail(new AtlsError('ERR_ATLS_ABORTED', 'TLS handshake aborted', { cause: options.signal?.reason }));
    };
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timer = setTimeout(() => {
      fail(new AtlsError('ERR_ATLS_HANDSHAKE_TIMEOUT', `TLS handshake did not complete within ${timeoutMs} ms`));
    }, timeoutMs);
    if (options.signal?.aborted === true) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    step();
  });
}

/** Plaintext side of an established TLS session. */
export class TlsClientStream extends Duplex {
  readonly #socket: Socket;
  readonly #session: NativeTlsSession;
  readonly #info: TlsSessionInfo;
  #sawData = false;

  constructor(socket: Socket, session: NativeTlsSession, eof: boolean) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    this.#session = session;
    this.#info = session.info();
    socket.on('data', (chunk: Buffer) => {
      if (this.destroyed) return;
      try {
        session.feed(chunk);
      } catch (err) {
        this.destroy(fromNative(err, 'stream', this.#sawData));
        return;
      }
      this.#pump();
    });
    socket.on('end', () => {
      if (this.destroyed) return;
      session.feedEof();
      this.#pump();
    });
    socket.on('error', (err: Error) => {
      this.destroy(
        this.#sawData
          ? new AtlsError('ERR_ATLS_CONNECTION_RESET', `TLS connection failed: ${err.message}`, { cause: err })
          : new AtlsError(
              'ERR_ATLS_REJECTED',
              `server dropped the connection right after the TLS handshake (${err.message}); it probably rejected our attestation`,
              { cause: err },
            ),
      );
    });
    socket.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    if (eof) session.feedEof();
    // Records that arrived with the last handshake flight are delivered once the consumer is attached.
    setImmediate(() => {
      this.#pump();
      if (!this.destroyed) socket.resume();
    });
  }

  /** Negotiated protocol version, cipher, ALPN, and the server's certificate (not verified). */
  get tlsInfo(): TlsSessionInfo {
    return this.#info;
  }

  get alpnProtocol(): string | null {
    return this.#info.alpn;
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }

  get localAddress(): string | undefined {
    return this.#socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.#socket.localPort;
  }

  setNoDelay(noDelay?: boolean): this {
    this.#socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelay?: number): this {
    this.#socket.setKeepAlive(enable, initialDelay);
    return this;
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.#socket.setTimeout(ms, callback);
    return this;
  }

  ref(): this {
    this.#socket.ref();
    return this;
  }

  unref(): this {
    this.#socket.unref();
    return this;
  }

  #flush(cb?: (err?: Error | null) => void): void {
    const out = this.#session.takeOutput();
    if (out !== null && this.#socket.writable) this.#socket.write(out, cb);
    else if (cb !== undefined) process.nextTick(cb);
  }

  #pump(): void {
    if (this.destroyed || this.#session.freed) return;
    for (;;) {
      let chunk: Buffer | null;
      try {
        chunk = this.#session.read();
        this.#flush();
      } catch (err) {
        if (this.#sawData && err instanceof NativeTlsError && err.code === 'ERR_TLS_UNEXPECTED_EOF') {
          // Like node:tls: a TCP close without close_notify ends the stream (HTTP/2 frames its own end).
          this.push(null);
          return;
        }
        try {
          this.#flush();
        } catch {
          // broken session: nothing more to send
        }
        this.destroy(fromNative(err, 'stream', this.#sawData));
        return;
      }
      if (chunk === null) {
        this.push(null);
        return;
      }
      if (chunk.length === 0) return;
      this.#sawData = true;
      if (!this.push(chunk)) {
        this.#socket.pause();
        return;
      }
    }
  }

  override _read(): void {
    this.#pump();
    if (!this.destroyed) this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    try {
      this.#session.write(chunk);
    } catch (err) {
      callback(fromNative(err, 'stream', this.#sawData));
      return;
    }
    this.#flush(callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    try {
      this.#session.shutdown();
      this.#flush();
    } catch {
      // closing anyway
    }
    if (this.#socket.writable) this.#socket.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#socket.destroy();
    this.#session.free();
    callback(err);
  }
}
