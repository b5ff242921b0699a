/** REPORT_DATA binding: SHA-512(SPKI_DER(own public key) || peer nonce), 64 bytes, all kinds, all eras. */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

export function reportDataFor(spki: Uint8Array, nonce: Uint8Array): Buffer {
  return createHash('sha512').update(spki).update(nonce).digest();
}
