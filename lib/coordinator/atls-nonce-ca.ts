/**
 * The server's throw-away nonce CA certificate: its only purpose is to make the TLS stack name exactly
 * one CA in the CertificateRequest, whose subject carries the server nonce. Profile (as @peculiar/x509's
 * generator wrote it before; the DER is written by lib/x509/build-certificate.ts): v3, positive random
 * 128-bit serial, ecdsa-with-SHA256, subject = issuer = one RDN with CN = base64(nonce) as
 * PrintableString, valid now..now+365 days, the server key's SPKI, an empty extensions list; self-signed.
 */
import type { KeyObject } from 'node:crypto';
import { buildCertificate, commonNameDer } from '../x509/build-certificate.js';

const VALIDITY_MS = 365 * 24 * 3600_000;

export interface NonceCaParams {
  readonly nonce: Uint8Array;
  /** The P-256 key that signs the certificate and whose public half it carries. */
  readonly privateKey: KeyObject;
  /** SubjectPublicKeyInfo DER of `privateKey`. */
  readonly spki: Uint8Array;
  readonly now?: Date;
}

/** The DER Name { CN = base64(nonce) } that the CertificateRequest carries (base64 is always a PrintableString). */
export function nonceCaName(nonce: Uint8Array): Buffer {
  return commonNameDer(Buffer.from(nonce).toString('base64'));
}

/** DER of the self-signed nonce CA certificate. */
export function createNonceCaCertificate(params: NonceCaParams): Buffer {
  const now = (params.now ?? new Date()).getTime();
  return buildCertificate({
    subject: Buffer.from(params.nonce).toString('base64'),
    notBefore: new Date(now),
    notAfter: new Date(now + VALIDITY_MS),
    publicKey: params.privateKey,
    spki: params.spki,
    signingKey: params.privateKey,
    hash: 'sha256',
    extensions: [],
  });
}
