/** REPORT_DATA binding helpers: the SPKI of a key, and SHA-512(SPKI || nonce) from lib/attestation. */
import { createPublicKey, type KeyObject } from 'node:crypto';

export { reportDataFor } from '../attestation/reportdata.js';

/** PKIX SubjectPublicKeyInfo DER (uncompressed point for EC keys), as Go's MarshalPKIXPublicKey. */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}
