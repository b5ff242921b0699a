/**
 * Validation of the Coordinator's NewMeshCert answer, before anything is written: every PEM block parses
 * as a certificate, the leaf of the chain is for our key, and the leaf is signed by the mesh CA.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { ResponseInvalidError } from './errors.js';

/**
 * How far the leaf's notBefore may lie ahead of this pod's clock: a Coordinator that issues with
 * notBefore = its own "now" must not be refused because its clock runs a little ahead of the pod's.
 * notAfter is not stretched: an expired certificate is refused.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** What the Coordinator returns (the fields of NewMeshCertResponse). */
export interface MeshCerts {
  readonly meshCACert: Buffer;
  readonly certChain: Buffer;
  readonly rootCACert: Buffer;
  readonly workloadSecret: Buffer;
}

/** A response that passed validation, with the parsed certificates for logs. */
export interface ValidatedMeshCerts extends MeshCerts {
  readonly leaf: X509Certificate;
  readonly meshCA: X509Certificate;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Parses a field of one or more `CERTIFICATE` PEM blocks; only whitespace may surround them. */
export function parseCertificates(field: string, pem: Buffer): X509Certificate[] {
  const text = pem.toString('latin1');
  const certs: X509Certificate[] = [];
  let last = 0;
  for (const m of text.matchAll(PEM_BLOCK)) {
    const between = text.slice(last, m.index);
    if (between.trim() !== '')
      throw new ResponseInvalidError(field, `unexpected text before PEM block ${certs.length + 1}`);
    if (m[1] !== 'CERTIFICATE')
      throw new ResponseInvalidError(field, `PEM block ${certs.length + 1} is "${m[1] ?? ''}", expected CERTIFICATE`);
    try {
      certs.push(new X509Certificate(m[0]));
    } catch (err) {
      throw new ResponseInvalidError(field, `PEM block ${certs.length + 1} is not a valid X.509 certificate`, {
        cause: err,
      });
    }
    last = m.index + m[0].length;
  }
  if (text.slice(last).trim() !== '')
    throw new ResponseInvalidError(
      field,
      certs.length === 0 ? 'expected PEM CERTIFICATE blocks' : 'unexpected text after the last PEM block',
    );
  if (certs.length === 0) throw new ResponseInvalidError(field, 'empty, expected PEM CERTIFICATE blocks');
  return certs;
}

/** Throws ResponseInvalidError unless the response is usable with `publicKey`. */
export function validateMeshCerts(certs: MeshCerts, publicKey: KeyObject, now: Date = new Date()): ValidatedMeshCerts {
  const [meshCA] = parseCertificates('MeshCACert', certs.meshCACert);
  const chain = parseCertificates('CertChain', certs.certChain);
  parseCertificates('RootCACert', certs.rootCACert);
  const leaf = chain[0];
  if (meshCA === undefined || leaf === undefined) throw new ResponseInvalidError('CertChain', 'empty');
  if (!leaf.publicKey.equals(publicKey)) {
    throw new ResponseInvalidError(
      'CertChain',
      `the leaf certificate (${leaf.subject || 'no subject'}) is not for this pod's key`,
    );
  }
  if (!meshCA.ca) throw new ResponseInvalidError('MeshCACert', `${meshCA.subject} is not a CA certificate`);
  if (!leaf.checkIssued(meshCA) || !leaf.verify(meshCA.publicKey)) {
    throw new ResponseInvalidError('CertChain', `the leaf certificate is not signed by the mesh CA ${meshCA.subject}`);
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  const validity = `(valid from ${notBefore.toISOString()} to ${notAfter.toISOString()}, this pod's clock says ${now.toISOString()})`;
  if (notBefore.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    throw new ResponseInvalidError(
      'CertChain',
      `the leaf certificate is not valid yet ${validity}; more than ${CLOCK_SKEW_MS / 1000} s ahead of this pod's clock: check the clocks of the Coordinator and this node`,
    );
  }
  if (notAfter.getTime() < now.getTime()) {
    throw new ResponseInvalidError('CertChain', `the leaf certificate has expired ${validity}`);
  }
  return Object.freeze({ ...certs, leaf, meshCA });
}
