/**
 * The mesh (workload) certificate profile (spec §7.3): for the peer's TLS public key, signed by the
 * mesh CA key (P-384, ecdsa-with-SHA384), issuer CN=system:coordinator:intermediate, subject CN = first
 * DNS SAN, valid now-1h..now+1y, KeyUsage digitalSignature, EKU serverAuth + clientAuth,
 * BasicConstraints CA:false, SANs classified as IP / URI (with a scheme) / DNS, plus optional extra
 * extensions (report claims) and the WorkloadSecretID extension 1.3.9901.3.1.
 *
 * Written by lib/x509/build-certificate.ts (one certificate per NewMeshCert, so no ASN.1 library or
 * WebCrypto import on that path), field for field as @peculiar/x509's generator wrote it: extensions in
 * the order KeyUsage (critical), EKU, BasicConstraints (critical, empty), AuthorityKeyIdentifier (SHA-1
 * of the issuer's public key bits), SubjectAltName (when there are SANs), extras, WorkloadSecretID.
 */
import type { KeyObject } from 'node:crypto';
import { buildCertificate, classifySan, OID, type RawExtension } from '../x509/build-certificate.js';

export { classifySan, ipBytes, keyIdentifier, type GeneralName } from '../x509/build-certificate.js';

export const WORKLOAD_SECRET_ID_OID = '1.3.9901.3.1';
const HOUR_MS = 3600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;
const INTERMEDIATE_CN = 'system:coordinator:intermediate';

export interface MeshCertParams {
  /** The mesh CA key (P-384). */
  readonly issuerKey: KeyObject;
  /** The peer's public key (any type the TLS stack accepts; P-256 for initializers). */
  readonly subjectPublicKey: KeyObject;
  readonly sans: readonly string[];
  readonly workloadSecretID?: string;
  /** Further non-critical extensions, e.g. report claims under 1.3.9901.2.{1,2}.N. */
  readonly extraExtensions?: ReadonlyArray<{ readonly oid: string; readonly value: Uint8Array }>;
  readonly now?: Date;
}

export function issueMeshCert(params: MeshCertParams): Buffer {
  const now = (params.now ?? new Date()).getTime();
  const extensions: RawExtension[] = (params.extraExtensions ?? []).map((e) => ({ oid: e.oid, value: e.value }));
  if (params.workloadSecretID !== undefined && params.workloadSecretID !== '') {
    extensions.push({ oid: WORKLOAD_SECRET_ID_OID, value: Buffer.from(params.workloadSecretID, 'utf8') });
  }
  return buildCertificate({
    subject: params.sans.map(classifySan).find((n) => n.type === 'dns')?.value,
    issuer: INTERMEDIATE_CN,
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + YEAR_MS),
    publicKey: params.subjectPublicKey,
    signingKey: params.issuerKey,
    hash: 'sha384',
    keyUsage: ['digitalSignature'],
    extKeyUsage: [OID.serverAuth, OID.clientAuth],
    basicConstraints: { ca: false },
    authorityKeyIdentifier: true,
    subjectAltNames: params.sans,
    extensions,
  });
}
