/**
 * The server's throw-away nonce CA certificate, written as DER by hand: its only purpose is to make the
 * TLS stack name exactly one CA in the CertificateRequest, whose subject carries the server nonce.
 * Profile (as @peculiar/x509's generator wrote it before): v3, positive random 128-bit serial,
 * ecdsa-with-SHA256, subject = issuer = one RDN with CN = base64(nonce) as PrintableString, valid
 * now..now+365 days, the server key's SPKI, an empty extensions list; self-signed with node:crypto.
 */
import { sign, type KeyObject } from 'node:crypto';
import { bitString, explicit, oid, printableString, sequence, set, time, unsignedInteger } from '../x509/der.js';
import { randomSerialHex } from '../atls/issue-certificate.js';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const COMMON_NAME = '2.5.4.3';
const VALIDITY_MS = 365 * 24 * 3600_000;

export interface NonceCaParams {
  readonly nonce: Uint8Array;
  /** The P-256 key that signs the certificate and whose public half it carries. */
  readonly privateKey: KeyObject;
  /** SubjectPublicKeyInfo DER of `privateKey`. */
  readonly spki: Uint8Array;
  readonly now?: Date;
}

/** The DER Name { CN = base64(nonce) } that the CertificateRequest carries. */
export function nonceCaName(nonce: Uint8Array): Buffer {
  return sequence(set(sequence(oid(COMMON_NAME), printableString(Buffer.from(nonce).toString('base64')))));
}

/** DER of the self-signed nonce CA certificate. */
export function createNonceCaCertificate(params: NonceCaParams): Buffer {
  const now = (params.now ?? new Date()).getTime();
  const name = nonceCaName(params.nonce);
  const algorithm = sequence(oid(ECDSA_WITH_SHA256));
  const tbs = sequence(
    explicit(0, unsignedInteger(Buffer.from([2]))), // v3
    unsignedInteger(Buffer.from(randomSerialHex(), 'hex')),
    algorithm,
    name,
    sequence(time(new Date(now)), time(new Date(now + VALIDITY_MS))),
    name,
    params.spki,
    explicit(3, sequence()),
  );
  const signature = sign('sha256', tbs, { key: params.privateKey, dsaEncoding: 'der' });
  return sequence(tbs, algorithm, bitString(signature));
}
