/**
 * Reference only: the mesh certificate as @peculiar/x509's generator wrote it before lib/pki/mesh-cert.ts
 * wrote DER by hand. The equivalence test issues both for the same inputs and compares them field by field.
 */
import 'reflect-metadata';
import { createPublicKey } from 'node:crypto';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  Extension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  X509CertificateGenerator,
  type JsonGeneralName,
} from '@peculiar/x509';
import { INTERMEDIATE_NAME } from '../../../lib/coordinator/ca.js';
import { classifySan, WORKLOAD_SECRET_ID_OID, type MeshCertParams } from '../../../lib/coordinator/mesh-cert.js';
import { cryptoProvider, signingKey, verifyingKey } from '../../../lib/x509/webcrypto.js';

const HOUR_MS = 3600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;

export async function peculiarMeshCert(params: MeshCertParams): Promise<Buffer> {
  const now = params.now ?? new Date();
  const names: JsonGeneralName[] = params.sans.map(classifySan);
  const firstDns = names.find((n) => n.type === 'dns')?.value;
  const extensions: Extension[] = [
    new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
    new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth], false),
    new BasicConstraintsExtension(false, undefined, true),
    await AuthorityKeyIdentifierExtension.create(
      await verifyingKey(createPublicKey(params.issuerKey)),
      false,
      cryptoProvider,
    ),
  ];
  if (names.length > 0) extensions.push(new SubjectAlternativeNameExtension(names, false));
  for (const e of params.extraExtensions ?? []) extensions.push(new Extension(e.oid, false, Buffer.from(e.value)));
  if (params.workloadSecretID !== undefined && params.workloadSecretID !== '') {
    extensions.push(new Extension(WORKLOAD_SECRET_ID_OID, false, Buffer.from(params.workloadSecretID, 'utf8')));
  }
  const cert = await X509CertificateGenerator.create(
    {
      serialNumber: '01',
      subject: firstDns === undefined ? '' : [{ CN: [firstDns] }],
      issuer: INTERMEDIATE_NAME,
      notBefore: new Date(now.getTime() - HOUR_MS),
      notAfter: new Date(now.getTime() + YEAR_MS),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
      publicKey: await verifyingKey(params.subjectPublicKey),
      signingKey: await signingKey(params.issuerKey),
      extensions,
    },
    cryptoProvider,
  );
  return Buffer.from(cert.rawData);
}
