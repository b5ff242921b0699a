/** REPORT_DATA binding helpers: the SPKI of a key, and SHA-512(SPKI || nonce) from lib/attestation. */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { bitString, oid, sequence } from '../x509/der.js';

export { reportDataFor } from '../attestation/reportdata.js';

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';

/** SEQUENCE { SEQUENCE { id-ecPublicKey, curve }, BIT STRING header, 0x04 } of an uncompressed point. */
function pointPrefix(curveOid: string, coordinateBytes: number): Buffer {
  const der = sequence(
    sequence(oid(EC_PUBLIC_KEY), oid(curveOid)),
    bitString(Buffer.alloc(1 + 2 * coordinateBytes, 4)),
  );
  return der.subarray(0, der.length - 2 * coordinateBytes);
}

/** By OpenSSL curve name, as KeyObject.asymmetricKeyDetails reports it. */
const POINT_PREFIX: Readonly<Record<string, { prefix: Buffer; size: number }>> = {
  prime256v1: { prefix: pointPrefix('1.2.840.10045.3.1.7', 32), size: 32 },
  secp384r1: { prefix: pointPrefix('1.3.132.0.34', 48), size: 48 },
};

/**
 * PKIX SubjectPublicKeyInfo DER (uncompressed point for EC keys), as Go's MarshalPKIXPublicKey. P-256
 * and P-384 keys are written from their JWK coordinates, which node exports far faster than DER; the
 * bytes are the same as `export({ type: 'spki', format: 'der' })`, which any other key goes through.
 */
export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const curve = pub.asymmetricKeyType === 'ec' ? POINT_PREFIX[pub.asymmetricKeyDetails?.namedCurve ?? ''] : undefined;
  if (curve !== undefined) {
    const jwk = pub.export({ format: 'jwk' });
    if (jwk.x !== undefined && jwk.y !== undefined) {
      const x = Buffer.from(jwk.x, 'base64url');
      const y = Buffer.from(jwk.y, 'base64url');
      if (x.length === curve.size && y.length === curve.size) return Buffer.concat([curve.prefix, x, y]);
    }
  }
  return pub.export({ type: 'spki', format: 'der' });
}
