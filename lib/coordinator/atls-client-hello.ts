/**
 * Reads the TLS ClientHello off a raw socket before any TLS stack sees it, so that the server can pick
 * its certificate (which attests over the client nonce) and its CertificateRequest CA name per
 * connection. Only SNI and ALPN are extracted; the bytes are handed on unchanged.
 */
import type { Socket } from 'node:net';
import { AtlsError } from '../atls/errors.js';
import { toError } from '../errors.js';

export interface ClientHelloInfo {
  readonly serverName: string | undefined;
  readonly alpn: readonly string[];
}

const MAX_HELLO = 64 * 1024;
const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;

function bad(what: string): AtlsError {
  return new AtlsError('ERR_ATLS_CLIENT_HELLO', `ClientHello: ${what}`);
}

/** A bounds-checked cursor over a buffer. */
class Reader {
  #pos = 0;
  constructor(private readonly buf: Buffer) {}
  get remaining(): number {
    return this.buf.length - this.#pos;
  }
  u8(): number {
    if (this.remaining < 1) throw bad('truncated');
    return this.buf[this.#pos++] ?? 0;
  }
  u16(): number {
    if (this.remaining < 2) throw bad('truncated');
    const v = this.buf.readUInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }
  bytes(n: number): Buffer {
    if (this.remaining < n) throw bad('truncated');
    const v = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }
  vec8(): Buffer {
    return this.bytes(this.u8());
  }
  vec16(): Buffer {
    return this.bytes(this.u16());
  }
}

/**
 * Tries to parse a complete ClientHello from the start of `data` (TLS records). Returns undefined when
 * more bytes are needed; throws ERR_ATLS_CLIENT_HELLO when the bytes are not a ClientHello.
 */
export function parseClientHello(data: Buffer): ClientHelloInfo | undefined {
  // Reassemble the handshake message from as many records as needed.
  const fragments: Buffer[] = [];
  let have = 0;
  let need: number | undefined;
  let pos = 0;
  while (need === undefined || have < need) {
    if (data.length - pos < 5) return undefined;
    const type = data[pos];
    if (type !== RECORD_HANDSHAKE) throw bad(`expected a handshake record (22), got content type ${String(type)}`);
    if (data[pos + 1] !== 3) throw bad('expected TLS record version 3.x');
    const len = data.readUInt16BE(pos + 3);
    if (len === 0 || len > 16384 + 256) throw bad(`record length ${len} out of range`);
    if (data.length - pos - 5 < len) return undefined;
    fragments.push(data.subarray(pos + 5, pos + 5 + len));
    have += len;
    pos += 5 + len;
    if (need === undefined && have >= 4) {
      const head = Buffer.concat(fragments);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO)
        throw bad(`expected handshake type 1 (ClientHello), got ${String(head[0])}`);
      need = 4 + head.readUIntBE(1, 3);
      if (need > MAX_HELLO) throw bad(`length ${need} exceeds ${MAX_HELLO}`);
    }
  }
  const msg = Buffer.concat(fragments).subarray(4, need);
  const r = new Reader(msg);
  r.u16(); // legacy_version
  r.bytes(32); // random
  r.vec8(); // legacy_session_id
  r.vec16(); // cipher_suites
  r.vec8(); // legacy_compression_methods
  let serverName: string | undefined;
  const alpn: string[] = [];
  if (r.remaining === 0) return { serverName, alpn };
  const exts = new Reader(r.vec16());
  while (exts.remaining > 0) {
    const type = exts.u16();
    const body = new Reader(exts.vec16());
    if (type === 0) {
      const list = new Reader(body.vec16());
      while (list.remaining > 0) {
        const nameType = list.u8();
        const name = list.vec16();
        if (nameType === 0 && serverName === undefined) serverName = name.toString('latin1');
      }
    } else if (type === 16) {
      const list = new Reader(body.vec16());
      while (list.remaining > 0) {
        const proto = list.vec8();
        if (proto.length === 0) throw bad('empty ALPN protocol name');
        alpn.push(proto.toString('latin1'));
      }
    }
  }
  return { serverName, alpn };
}

/**
 * Reads from `socket` until a whole ClientHello is buffered. Resolves with what it says and every byte
 * read so far (to be replayed into the TLS stack). The socket is left paused.
 */
export function readClientHello(
  socket: Socket,
  signal?: AbortSignal,
): Promise<{ hello: ClientHelloInfo; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const done = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      socket.pause();
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      let hello: ClientHelloInfo | undefined;
      try {
        hello = parseClientHello(buffered);
        if (hello === undefined && buffered.length > MAX_HELLO + 1024) throw bad('too large');
      } catch (err) {
        done();
        reject(toError(err));
        return;
      }
      if (hello !== undefined) {
        done();
        resolve({ hello, bytes: buffered });
      }
    };
    const onEnd = (): void => {
      done();
      reject(new AtlsError('ERR_ATLS_CLIENT_HELLO', `ClientHello: connection closed after ${buffered.length} bytes`));
    };
    const onError = (err: Error): void => {
      done();
      reject(new AtlsError('ERR_ATLS_CLIENT_HELLO', `ClientHello: ${err.message}`, { cause: err }));
    };
    const onAbort = (): void => {
      done();
      reject(
        new AtlsError('ERR_ATLS_HANDSHAKE_TIMEOUT', 'ClientHello not received in time', { cause: signal?.reason }),
      );
    };
    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.resume();
  });
}
