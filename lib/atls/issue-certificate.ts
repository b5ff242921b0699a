/**
 * The aTLS client certificate (the profile is fixed, so the client path loads no ASN.1 library; the DER
 * is written by lib/x509/build-certificate.ts): self-signed P-256, subject = issuer = CN=Contrast
 * (PrintableString, as Go writes it), valid now-2h..now+2h, positive random 128-bit serial,
 * ecdsa-with-SHA256, exactly one non-critical extension holding the raw attestation document under the
 * platform OID; no EKU, KeyUsage, BasicConstraints or key identifiers.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { ecCurve } from '../x509/webcrypto.js';
import { buildCertificate } from '../x509/build-certificate.js';
import { AtlsError } from './errors.js';
import { spkiDer } from './report-data.js';

export const ATLS_SUBJECT = 'CN=Contrast';
const VALIDITY_MS = 2 * 60 * 60 * 1000;

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
  if (ecCurve(params.privateKey, 'aTLS key') !== 'P-256')
    throw new AtlsError('ERR_ATLS_ISSUE_FAILED', 'aTLS key: expected ECDSA P-256');
  const publicKey = params.publicKey.type === 'private' ? createPublicKey(params.publicKey) : params.publicKey;
  if (ecCurve(publicKey, 'aTLS public key') !== 'P-256')
    throw new AtlsError('ERR_ATLS_ISSUE_FAILED', 'aTLS public key: expected ECDSA P-256');
  const now = (params.now ?? new Date()).getTime();
  return buildCertificate({
    subject: 'Contrast',
    notBefore: new Date(now - VALIDITY_MS),
    notAfter: new Date(now + VALIDITY_MS),
    publicKey,
    spki: params.spki ?? spkiDer(publicKey),
    signingKey: params.privateKey,
    ...(params.document === undefined ? {} : { extensions: [params.document] }),
  });
}
