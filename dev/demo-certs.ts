/** Human-readable summaries of the certificates a pod received. */
import { X509Certificate } from 'node:crypto';

export interface CertSummary {
  readonly subject: string;
  readonly issuer: string;
  readonly sans: readonly string[];
  readonly notAfter: string;
  readonly keyType: string;
  readonly fingerprint: string;
}

/** Splits a PEM bundle into certificates, in file order. */
export function parsePemBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

export function summarise(cert: X509Certificate): CertSummary {
  const oneLine = (dn: string): string =>
    dn
      .split('\n')
      .filter((s) => s !== '')
      .join(', ');
  const sans = (cert.subjectAltName ?? '').split(', ').filter((s) => s !== '');
  const key = cert.publicKey.asymmetricKeyDetails;
  const keyType = `${cert.publicKey.asymmetricKeyType ?? '?'}${key?.namedCurve !== undefined ? ` ${key.namedCurve}` : ''}`;
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    sans,
    notAfter: cert.validTo,
    keyType,
    fingerprint: cert.fingerprint256.slice(0, 23),
  };
}

/**
 * The pod's chain as a verifier sees it: the leaf is signed by the mesh CA's key (the intermediate
 * has the same key), and the intermediate by the Coordinator root.
 */
export function chainVerifies(
  chain: readonly X509Certificate[],
  meshCa: X509Certificate,
  root: X509Certificate,
): boolean {
  const [leaf, intermediate] = chain;
  if (leaf === undefined || intermediate === undefined) return false;
  return leaf.verify(meshCa.publicKey) && leaf.checkIssued(meshCa) && intermediate.verify(root.publicKey);
}
