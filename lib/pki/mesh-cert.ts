/**
 * The mesh (workload) certificate profile (spec §7.3): for the peer's TLS public key, signed by the
 * mesh CA key (P-384, ecdsa-with-SHA384), issuer CN=system:coordinator:intermediate, subject CN = first
 * DNS SAN, valid now-1h..now+1y, KeyUsage digitalSignature, EKU serverAuth + clientAuth,
 * BasicConstraints CA:false, SANs classified as IP / URI (with a scheme) / DNS, plus optional extra
 * extensions (report claims) and the WorkloadSecretID extension 1.3.9901.3.1.
 */
import 'reflect-metadata';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  AuthorityKeyIdentifierExtension, BasicConstraintsExtension, Extension, ExtendedKeyUsage, ExtendedKeyUsageExtension,
  KeyUsageFlags, KeyUsagesExtension, SubjectAlternativeNameExtension, X509CertificateGenerator, type JsonGeneralName,
} from '@peculiar/x509';
import { randomSerialHex } from '../atls/certificate.js';
import { INTERMEDIATE_NAME } from './ca.js';
import { cryptoProvider, signingKey, verifyingKey } from './webcrypto.js';

export const WORKLOAD_SECRET_ID_OID = '1.3.9901.3.1';
const HOUR_MS = 3600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;

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

/** IP literal -> IP SAN; URL with a scheme -> URI SAN; anything else -> DNS SAN. */
export function classifySan(san: string): JsonGeneralName {
  if (isIP(san) !== 0) return { type: 'ip', value: san };
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(san) && URL.canParse(san)) return { type: 'url', value: san };
  return { type: 'dns', value: san };
}

export async function issueMeshCert(params: MeshCertParams): Promise<Buffer> {
  const now = params.now ?? new Date();
  const names = params.sans.map(classifySan);
  const firstDns = names.find((n) => n.type === 'dns')?.value;
  const extensions: Extension[] = [
    new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
    new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth], false),
    new BasicConstraintsExtension(false, undefined, true),
    await AuthorityKeyIdentifierExtension.create(await verifyingKey(createPublicKey(params.issuerKey)), false, cryptoProvider),
  ];
  if (names.length > 0) extensions.push(new SubjectAlternativeNameExtension(names, false));
  for (const e of params.extraExtensions ?? []) extensions.push(new Extension(e.oid, false, Buffer.from(e.value)));
  if (params.workloadSecretID !== undefined && params.workloadSecretID !== '') {
    extensions.push(new Extension(WORKLOAD_SECRET_ID_OID, false, Buffer.from(params.workloadSecretID, 'utf8')));
  }
  const cert = await X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: firstDns === undefined ? '' : [{ CN: [firstDns] }],
    issuer: INTERMEDIATE_NAME,
    notBefore: new Date(now.getTime() - HOUR_MS),
    notAfter: new Date(now.getTime() + YEAR_MS),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
    publicKey: await verifyingKey(params.subjectPublicKey),
    signingKey: await signingKey(params.issuerKey),
    extensions,
  }, cryptoProvider);
  return Buffer.from(cert.rawData);
}

