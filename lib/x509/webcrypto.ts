/** Bridges node:crypto KeyObjects to the WebCrypto keys @peculiar/x509 signs with (Node 20 has no KeyObject.toCryptoKey). */
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import { ContrastError } from '../errors.js';

export class KeyTypeError extends ContrastError {
  readonly code = 'ERR_PKI_KEY_TYPE';
}

export type EcCurve = 'P-256' | 'P-384';

/** The WebCrypto provider used for every certificate operation. */
export const cryptoProvider: webcrypto.Crypto = webcrypto;

const CURVES: Readonly<Record<string, EcCurve>> = { prime256v1: 'P-256', secp384r1: 'P-384' };

/** P-256 or P-384 of an EC key; anything else is rejected. */
export function ecCurve(key: KeyObject, what: string): EcCurve {
  const curve = key.asymmetricKeyType === 'ec' ? CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''] : undefined;
  if (curve === undefined) {
    throw new KeyTypeError(
      `${what}: expected an ECDSA P-256 or P-384 key, got ${key.asymmetricKeyType ?? key.type} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim(),
    );
  }
  return curve;
}

/** ECDSA signing key for a private KeyObject. */
export async function signingKey(privateKey: KeyObject): Promise<webcrypto.CryptoKey> {
  if (privateKey.type !== 'private')
    throw new KeyTypeError(`signing key: expected a private key, got ${privateKey.type}`);
  const namedCurve = ecCurve(privateKey, 'signing key');
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  return cryptoProvider.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve }, false, ['sign']);
}

/** ECDSA verification key for a public (or private) KeyObject. */
export async function verifyingKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const namedCurve = ecCurve(pub, 'public key');
  const der = pub.export({ type: 'spki', format: 'der' });
  return cryptoProvider.subtle.importKey('spki', der, { name: 'ECDSA', namedCurve }, true, ['verify']);
}
