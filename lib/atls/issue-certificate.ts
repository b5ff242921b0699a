/**
 * The aTLS client certificate, written as DER by hand (the profile is fixed, so the client path loads no
 * ASN.1 library): self-signed P-256, subject = issuer = CN=Contrast (PrintableString, as Go writes it),
 * valid now-2h..now+2h, positive random 128-bit serial, ecdsa-with-SHA256, exactly one non-critical
 * extension holding the raw attestation document under the platform OID; no EKU, KeyUsage,
 * BasicConstraints or key identifiers. Signed with node:crypto.
 */
import { createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { ecCurve } from '../x509/webcrypto.js';
import { bitString, explicit, octetString, oid, printableString, sequence, set, time, unsignedInteger } from '../x509/der.js';
import { AtlsError } from './errors.js';
import { spkiDer } from './report-data.js';

export const ATLS_SUBJECT = 'CN=Contrast';
const VALIDITY_MS = 2 * 60 * 60 * 1000;
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const COMMON_NAME = '2.5.4.3';

/** A positive serial below 2^128 whose DER INTEGER needs no leading zero byte. */
export function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return b.toString('hex');
}

export interface AtlsCertificateParams {
  /** P-256 key pair owner; the certificate is for its public key and signed with it. */
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER of `publicKey`, when the caller has it already. */
  readonly spki?: Uint8Array;
  /** Attestation extension OID (1.3.9901.2.{1,2,3}) and the raw document; omit for a plain certificate. */
  readonly document?: { readonly oid: string; readonly value: Uint8Array };
  readonly now?: Date;
}

/** Builds the DER certificate. */
export function createAtlsCertificate(params: AtlsCertificateParams): Buffer {
  return buildCertificate(params);
}

function buildCertificate(params: AtlsCertificateParams): Buffer {
  if (ecCurve(params.privateKey, 'aTLS key') !== 'P-256') throw new AtlsError('ERR_ATLS_ISSUE_FAILED', 'aTLS key: expected ECDSA P-256');
  const publicKey = params.publicKey.type === 'private' ? createPublicKey(params.publicKey) : params.publicKey;
  if (ecCurve(publicKey, 'aTLS public key') !== 'P-256') throw new AtlsError('ERR_ATLS_ISSUE_FAILED', 'aTLS public key: expected ECDSA P-256');
  const now = (params.now ?? new Date()).getTime();
  const name = sequence(set(sequence(oid(COMMON_NAME), printableString('Contrast'))));
  const algorithm = sequence(oid(ECDSA_WITH_SHA256));
  const extensions = params.document === undefined
    ? []
    : [explicit(3, sequence(sequence(oid(params.document.oid), octetString(params.document.value))))];
  const tbs = sequence(
    explicit(0, unsignedInteger(Buffer.from([2]))), // v3
    unsignedInteger(Buffer.from(randomSerialHex(), 'hex')),
    algorithm,
    name,
    sequence(time(new Date(now - VALIDITY_MS)), time(new Date(now + VALIDITY_MS))),
    name,
    params.spki ?? spkiDer(publicKey),
    ...extensions,
  );
  const signature = sign('sha256', tbs, { key: params.privateKey, dsaEncoding: 'der' });
  return sequence(tbs, algorithm, bitString(signature));
}
