/** The aTLS certificate profile (spec §3.5), read back with openssl, and the receiver's checks. */
import 'reflect-metadata';
import test from 'ava';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Extension, ExtendedKeyUsageExtension, X509Certificate as PeculiarX509 } from '@peculiar/x509';
import { createAtlsCertificate, inspectAtlsCertificate } from '../../lib/coordinator/atls-client-certificate.js';
import { AtlsError, type AtlsErrorCode } from '../../lib/atls/errors.js';
import { toPem } from '../../lib/x509/pem.js';
import { cryptoProvider } from '../../lib/x509/webcrypto.js';
import { runOpenssl } from './helpers/openssl-peer.js';
import { peculiarCert } from './helpers/peculiar-cert.js';

const doc = { oid: '1.3.9901.2.3', value: Buffer.from('{"reportData":"","hostData":""}') };

test('profile: self-signed CN=Contrast, ±2 h, positive serial, ecdsa-with-SHA256, one non-critical extension with the raw document', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = new Date('2026-11-29T12:00:00Z');
  const der = createAtlsCertificate({ privateKey, publicKey, document: doc, now });
  const cert = new X509Certificate(der);
  t.is(cert.subject, 'CN=Contrast');
  t.is(cert.issuer, 'CN=Contrast');
  t.is(new Date(cert.validFrom).getTime(), now.getTime() - 2 * 3600_000);
  t.is(new Date(cert.validTo).getTime(), now.getTime() + 2 * 3600_000);
  t.true(cert.verify(publicKey));
  t.false(cert.ca);
  const dir = await mkdtemp(join(tmpdir(), `atls-cert-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'c.pem'), toPem(der, 'CERTIFICATE'));
  const p = runOpenssl(['x509', '-in', join(dir, 'c.pem'), '-noout', '-text', '-certopt', 'ext_parse']);
  await p.exited;
  const text = p.output();
  t.regex(text, /Version: 3 \(0x2\)/);
  t.regex(text, /Signature Algorithm: ecdsa-with-SHA256/);
  t.regex(text, /NIST CURVE: P-256/);
  t.regex(text, /pub:\s+04:/); // uncompressed point
  t.notRegex(text, /Serial Number:.*\(Negative\)/);
  t.regex(text, /X509v3 extensions:\n\s+1\.3\.9901\.2\.3: \n/);
  t.notRegex(text, /Key Usage|Basic Constraints|Key Identifier/);
  const parsed = inspectAtlsCertificate(der, now);
  t.deepEqual(parsed.documents, [doc]);
  t.deepEqual(parsed.spki, publicKey.export({ type: 'spki', format: 'der' }));
  t.is(parsed.spki.length, 91);
  t.true(parsed.publicKey.equals(publicKey));
});

test('the key must be P-256', (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const err = t.throws(() => createAtlsCertificate({ privateKey, publicKey, document: doc }), {
    instanceOf: AtlsError,
  });
  t.is(err.code, 'ERR_ATLS_ISSUE_FAILED');
});

function customCert(extensions: Extension[]): Promise<Buffer> {
  return peculiarCert({ subject: 'CN=Contrast', extensions });
}

const receiver: Array<[string, () => Buffer | Promise<Buffer>, AtlsErrorCode]> = [
  [
    'not yet valid',
    () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return createAtlsCertificate({ privateKey, publicKey, document: doc, now: new Date(Date.now() + 3 * 3600_000) });
    },
    'ERR_ATLS_CERT_NOT_YET_VALID',
  ],
  [
    'expired',
    () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return createAtlsCertificate({ privateKey, publicKey, document: doc, now: new Date(Date.now() - 3 * 3600_000) });
    },
    'ERR_ATLS_CERT_EXPIRED',
  ],
  [
    'EKU without serverAuth',
    () => customCert([new Extension(doc.oid, false, doc.value), new ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.2'])]),
    'ERR_ATLS_CERT_EKU',
  ],
  [
    'unknown critical extension',
    () => customCert([new Extension(doc.oid, false, doc.value), new Extension('1.2.3.4', true, Buffer.from([5, 0]))]),
    'ERR_ATLS_CERT_CRITICAL_EXTENSION',
  ],
  ['no attestation extension', () => customCert([]), 'ERR_ATLS_NO_DOCUMENT'],
  ['not a certificate', () => Promise.resolve(Buffer.from('garbage')), 'ERR_ATLS_CERT_MALFORMED'],
];
for (const [name, make, code] of receiver) {
  test(`receiver rejects: ${name}`, async (t) => {
    const der = await make();
    const err = t.throws(() => inspectAtlsCertificate(der), { instanceOf: AtlsError });
    t.is(err.code, code);
  });
}

test('receiver accepts an EKU that includes serverAuth', async (t) => {
  const der = await customCert([
    new Extension(doc.oid, false, doc.value),
    new ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']),
  ]);
  t.is(inspectAtlsCertificate(der).documents.length, 1);
});

test('a document that embeds a PEM certificate (TDX PCK chain) does not confuse the receiver', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = await customCert([]);
  const value = Buffer.concat([
    Buffer.from('quote...\n'),
    Buffer.from(toPem(other, 'CERTIFICATE')),
    Buffer.from('...'),
  ]);
  const der = createAtlsCertificate({ privateKey, publicKey, document: { oid: '1.3.9901.2.2', value } });
  const parsed = inspectAtlsCertificate(der);
  t.deepEqual(parsed.spki, publicKey.export({ type: 'spki', format: 'der' }));
  t.deepEqual(parsed.documents[0]?.value, value);
});

test('the hand-written DER parses identically with @peculiar/x509 and Node', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  for (const now of [
    new Date('2026-11-29T12:00:00.750Z'),
    new Date('2049-12-31T23:00:00Z'),
    new Date('2050-01-01T01:00:00Z'),
  ]) {
    for (const value of [Buffer.alloc(0), Buffer.alloc(100, 1), Buffer.alloc(70_000, 2)]) {
      const der = createAtlsCertificate({ privateKey, publicKey, document: { oid: '1.3.9901.2.1', value }, now });
      const cert = new PeculiarX509(der);
      t.is(cert.subject, 'CN=Contrast');
      t.is(cert.notBefore.getTime(), Math.floor(now.getTime() / 1000) * 1000 - 2 * 3600_000);
      t.is(cert.notAfter.getTime(), Math.floor(now.getTime() / 1000) * 1000 + 2 * 3600_000);
      t.is(cert.extensions.length, 1);
      t.is(cert.extensions[0]?.type, '1.3.9901.2.1');
      t.false(cert.extensions[0]?.critical);
      t.deepEqual(Buffer.from(cert.extensions[0]?.value ?? new ArrayBuffer(0)), value);
      t.true(await cert.verify({ signatureOnly: true }, cryptoProvider));
      t.regex(cert.serialNumber, /^[0-7][0-9a-f]{31}$/);
      t.true(new X509Certificate(der).verify(publicKey));
      t.deepEqual(Buffer.from(cert.rawData), der);
    }
  }
});
