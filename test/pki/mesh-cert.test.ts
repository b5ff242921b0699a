/** The CA hierarchy and mesh certificate profile (spec §7.3), read back with the openssl CLI. */
import 'reflect-metadata';
import test from 'ava';
import { generateKeyPairSync, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate as PeculiarCert } from '@peculiar/x509';
import { createMeshCa, createRootCa, INTERMEDIATE_NAME, newP384Key, ROOT_CA_NAME } from '../../lib/coordinator/ca.js';
import { classifySan, issueMeshCert, WORKLOAD_SECRET_ID_OID } from '../../lib/coordinator/mesh-cert.js';
import { toPem } from '../../lib/x509/pem.js';
import { KeyTypeError } from '../../lib/x509/webcrypto.js';
import { runOpenssl } from '../atls/helpers/openssl-peer.js';

async function opensslText(t: { teardown(fn: () => Promise<void>): void }, der: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `pki-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'c.pem');
  await writeFile(path, toPem(der, 'CERTIFICATE'));
  const p = runOpenssl(['x509', '-in', path, '-noout', '-text']);
  await p.exited;
  return p.output();
}

test('root and mesh CA: P-384, ecdsa-with-SHA384, CA:true, certSign + digitalSignature, names and chain', async (t) => {
  const rootKey = await newP384Key();
  const meshKey = await newP384Key();
  const root = new X509Certificate(createRootCa(rootKey));
  const { meshCACert, intermediateCert } = createMeshCa(rootKey, meshKey);
  const mesh = new X509Certificate(meshCACert);
  const inter = new X509Certificate(intermediateCert);
  t.is(root.subject, 'CN=system:coordinator:root');
  t.is(root.issuer, 'CN=system:coordinator:root');
  t.is(mesh.subject, 'CN=system:coordinator:intermediate');
  t.is(mesh.issuer, 'CN=system:coordinator:intermediate');
  t.is(inter.subject, 'CN=system:coordinator:intermediate');
  t.is(inter.issuer, 'CN=system:coordinator:root');
  t.true(root.verify(root.publicKey));
  t.true(mesh.verify(mesh.publicKey));
  t.true(inter.verify(root.publicKey));
  t.true(inter.publicKey.equals(mesh.publicKey));
  t.true(root.ca && mesh.ca && inter.ca);
  const text = await opensslText(t, intermediateCert);
  t.regex(text, /Signature Algorithm: ecdsa-with-SHA384/);
  t.regex(text, /NIST CURVE: P-384/);
  t.regex(text, /X509v3 Basic Constraints: critical\s+CA:TRUE/);
  t.regex(text, /X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign/);
  const years = (Date.parse(inter.validTo) - Date.parse(inter.validFrom)) / (365 * 24 * 3600_000);
  t.true(years > 9.9 && years < 10.1, String(years));
  t.is(ROOT_CA_NAME, 'CN=system:coordinator:root');
  t.is(INTERMEDIATE_NAME, 'CN=system:coordinator:intermediate');
});

test('mesh certificate profile', async (t) => {
  const meshKey = await newP384Key();
  const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = new Date('2026-06-01T12:00:00Z');
  const der = issueMeshCert({
    issuerKey: meshKey,
    subjectPublicKey: peer.publicKey,
    now,
    sans: ['10.0.0.7', 'web', 'spiffe://cluster/ns/web', '*', 'fd00::1', 'web.default.svc'],
    workloadSecretID: 'apps/v1/Deployment/default/web',
    extraExtensions: [{ oid: '1.3.9901.2.1.23', value: Buffer.from([0x04, 0x02, 0xab, 0xcd]) }],
  });
  const cert = new X509Certificate(der);
  t.true(cert.publicKey.equals(peer.publicKey));
  t.true(cert.verify(createPublicKey(meshKey)));
  t.is(cert.subject, 'CN=web');
  t.is(cert.issuer, 'CN=system:coordinator:intermediate');
  t.is(new Date(cert.validFrom).getTime(), now.getTime() - 3600_000);
  t.is(new Date(cert.validTo).getTime(), now.getTime() + 365 * 24 * 3600_000);
  t.false(cert.ca);
  t.is(
    cert.subjectAltName,
    'IP Address:10.0.0.7, DNS:web, URI:spiffe://cluster/ns/web, DNS:*, IP Address:FD00:0:0:0:0:0:0:1, DNS:web.default.svc',
  );
  const text = await opensslText(t, der);
  t.regex(text, /Signature Algorithm: ecdsa-with-SHA384/);
  t.regex(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
  t.regex(text, /X509v3 Extended Key Usage: \s*TLS Web Server Authentication, TLS Web Client Authentication/);
  t.regex(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  const parsed = new PeculiarCert(der);
  const secretExt = parsed.getExtension(WORKLOAD_SECRET_ID_OID);
  t.false(secretExt?.critical ?? true);
  t.is(Buffer.from(secretExt?.value ?? new ArrayBuffer(0)).toString('utf8'), 'apps/v1/Deployment/default/web');
  t.deepEqual(
    Buffer.from(parsed.getExtension('1.3.9901.2.1.23')?.value ?? new ArrayBuffer(0)),
    Buffer.from([0x04, 0x02, 0xab, 0xcd]),
  );
});

test('mesh certificate without WorkloadSecretID carries no 1.3.9901.3.1 extension', async (t) => {
  const der = issueMeshCert({
    issuerKey: await newP384Key(),
    subjectPublicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    sans: ['db'],
  });
  t.is(new PeculiarCert(der).getExtension(WORKLOAD_SECRET_ID_OID), null);
});

const sans: Array<[string, 'ip' | 'url' | 'dns']> = [
  ['192.168.1.1', 'ip'],
  ['::1', 'ip'],
  ['https://example.com/x', 'url'],
  ['spiffe://a/b', 'url'],
  ['web', 'dns'],
  ['*', 'dns'],
  ['*.svc.cluster.local', 'dns'],
  ['host:8080', 'dns'],
];
for (const [san, type] of sans) {
  test(`SAN ${san} is ${type}`, (t) => {
    t.is(classifySan(san).type, type);
  });
}

test('CA keys must be P-384', async (t) => {
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  t.throws(() => createRootCa(p256), { instanceOf: KeyTypeError });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  const rootKey = await newP384Key();
  t.throws(() => createMeshCa(rootKey, rsa), { instanceOf: KeyTypeError });
});
