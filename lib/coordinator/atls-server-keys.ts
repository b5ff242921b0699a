/**
 * Per-connection server keys, generated one ahead: each `take()` hands out the key pair prepared in the
 * background and starts preparing the next, so a handshake does not wait for key generation. Every key
 * is handed out exactly once (never reused across connections); a failed generation is reported to the
 * connection that takes it, and the pool carries on with a fresh one.
 */
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { spkiDer } from '../atls/report-data.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface ServerKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER (uncompressed point). */
  readonly spki: Buffer;
  /** SEC1 PEM (EC PRIVATE KEY), as the TLS stack takes it: it loads a little faster than PKCS#8. */
  readonly privateKeyPem: string;
}

/** A fresh P-256 key with the encodings a connection needs. */
export async function newServerKey(): Promise<ServerKey> {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  return {
    privateKey,
    publicKey,
    spki: spkiDer(publicKey),
    privateKeyPem: privateKey.export({ type: 'sec1', format: 'pem' }),
  };
}

export class ServerKeyPool {
  #next: Promise<ServerKey>;

  constructor(private readonly generate: () => Promise<ServerKey> = newServerKey) {
    this.#next = this.#start();
  }

  #start(): Promise<ServerKey> {
    const p = this.generate();
    p.catch(() => {
      /* reported to the connection that takes it */
    });
    return p;
  }

  /** The next unused key; starts generating the one after it. */
  take(): Promise<ServerKey> {
    const key = this.#next;
    this.#next = this.#start();
    return key;
  }
}
