/**
 * The aTLS certificate: self-signed P-256, subject = issuer = CN=Contrast, valid now-2h..now+2h, positive
 * random 128-bit serial, ecdsa-with-SHA256, exactly one non-critical extension holding the raw
 * attestation document under the platform OID; no EKU, KeyUsage, BasicConstraints or key identifiers.
 *
 * `inspectAtlsCertificate` is the receiver's side (Go `processCertificate`): self-signed verification
 * with the certificate as its only root, time validity, no unknown critical extension, no EKU that
 * excludes serverAuth; then the attestation extensions and the re-marshalled SPKI.
 */
import { X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { toPem } from '../x509/pem.js';
import { readCertificateFields, type CertificateFields } from '../x509/certificate-fields.js';
import { spkiDer } from '../atls/report-data.js';
import { AtlsError } from '../atls/errors.js';

// The sender's side lives in issue-certificate.ts (no ASN.1 library on the client path).
export { ATLS_SUBJECT, createAtlsCertificate, type AtlsCertificateParams } from '../atls/issue-certificate.js';

const ATTESTATION_OID_PREFIX = '1.3.9901.2.';
const EKU_OID = '2.5.29.37';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ANY_EKU = '2.5.29.37.0';

export interface InspectedCertificate {
  /** PKIX SubjectPublicKeyInfo DER as re-encoded from the parsed key (uncompressed EC point). */
  readonly spki: Buffer;
  /** The same key as a KeyObject. */
  readonly publicKey: KeyObject;
  /** Attestation extensions (OID under 1.3.9901.2.) in certificate order. */
  readonly documents: ReadonlyArray<{ readonly oid: string; readonly value: Buffer }>;
}

/** Receiver-side checks of a peer's aTLS certificate; each failure has its own code. */
export function inspectAtlsCertificate(der: Uint8Array, now: Date = new Date()): InspectedCertificate {
  let node: NodeX509;
  let parsed: CertificateFields;
  try {
    // Node's X509Certificate tries PEM before DER and would find a PEM certificate embedded in the
    // document (TDX quotes carry the PCK chain as PEM): hand it our certificate as the first PEM block.
    node = new NodeX509(toPem(der, 'CERTIFICATE'));
    parsed = readCertificateFields(Buffer.from(der.buffer, der.byteOffset, der.byteLength));
  } catch (err) {
    throw new AtlsError('ERR_ATLS_CERT_MALFORMED', 'client certificate: expected a DER X.509 certificate', {
      cause: err,
    });
  }
  const publicKey = node.publicKey;
  if (!node.checkIssued(node) || !node.verify(publicKey)) {
    throw new AtlsError(
      'ERR_ATLS_CERT_NOT_SELF_SIGNED',
      `client certificate (subject ${node.subject.trim()}, issuer ${node.issuer.trim()}): expected a self-signed certificate that verifies with its own key`,
    );
  }
  const notBefore = parsed.notBefore;
  const notAfter = parsed.notAfter;
  if (now.getTime() < notBefore.getTime()) {
    throw new AtlsError(
      'ERR_ATLS_CERT_NOT_YET_VALID',
      `client certificate is not valid before ${notBefore.toISOString()} (now ${now.toISOString()}); check clock skew`,
    );
  }
  if (now.getTime() > notAfter.getTime()) {
    throw new AtlsError(
      'ERR_ATLS_CERT_EXPIRED',
      `client certificate expired at ${notAfter.toISOString()} (now ${now.toISOString()})`,
    );
  }
  const documents: Array<{ oid: string; value: Buffer }> = [];
  for (const ext of parsed.extensions) {
    if (ext.oid.startsWith(ATTESTATION_OID_PREFIX)) {
      documents.push({ oid: ext.oid, value: Buffer.from(ext.value) });
      continue;
    }
    if (ext.oid === EKU_OID) {
      const usages: readonly string[] = node.keyUsage;
      if (!usages.includes(SERVER_AUTH) && !usages.includes(ANY_EKU)) {
        throw new AtlsError(
          'ERR_ATLS_CERT_EKU',
          `client certificate: extended key usage ${usages.join(',')} excludes serverAuth`,
        );
      }
      continue;
    }
    if (ext.critical && !KNOWN_CRITICAL.has(ext.oid)) {
      throw new AtlsError(
        'ERR_ATLS_CERT_CRITICAL_EXTENSION',
        `client certificate: unknown critical extension ${ext.oid}`,
      );
    }
  }
  if (documents.length === 0) {
    throw new AtlsError(
      'ERR_ATLS_NO_DOCUMENT',
      'client certificate carries no attestation extension (1.3.9901.2.1 SNP, .2 TDX, .3 insecure)',
    );
  }
  const spki = spkiDer(publicKey);
  return { spki, publicKey, documents };
}

/** Extensions Go's x509 understands when critical. */
const KNOWN_CRITICAL = new Set([
  '2.5.29.15', // key usage
  '2.5.29.19', // basic constraints
  '2.5.29.17', // subject alternative name
  '2.5.29.30', // name constraints
  '2.5.29.32', // certificate policies
  '2.5.29.35', // authority key identifier
  '2.5.29.14', // subject key identifier
]);
