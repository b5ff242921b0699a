/**
 * The one certificate builder: every field comes out as asked (read back by @peculiar/x509, node:crypto
 * and `openssl x509 -text`), and a description it cannot write is a typed error.
 */
import 'reflect-metadata';
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate as PeculiarX509,
} from '@peculiar/x509';
import {
  buildCertificate,
  keyIdentifier,
  OID,
  spkiOf,
  type CertificateSpec,
} from '../../lib/x509/build-certificate.js';
import { toPem } from '../../lib/x509/pem.js';

function opensslText(der: Buffer): string {
  return execFileSync('openssl', ['x509', '-noout', '-text'], { input: toPem(der, 'CERTIFICATE') }).toString();
}

const issuer = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const subject = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const base: CertificateSpec = {
  subject: 'leaf.example',
  issuer: 'Example CA',
  serial: Buffer.from('0badc0ffee', 'hex'),
  notBefore: new Date('2026-01-02T03:04:05Z'),
  notAfter: new Date('2027-01-02T03:04:05Z'),
  publicKey: subject.publicKey,
  signingKey: issuer.privateKey,
  keyUsage: ['digitalSignature', 'keyEncipherment'],
  extKeyUsage: [OID.serverAuth, OID.clientAuth],
  basicConstraints: { ca: false },
  authorityKeyIdentifier: true,
  subjectAltNames: ['leaf.example', '10.0.0.7', 'fd00::1', 'spiffe://example/ns/x'],
  extensions: [
    { oid: '1.3.9901.3.1', value: Buffer.from('secret-id') },
    { oid: '1.2.3.4', value: Buffer.from([1]), critical: true },
  ],
};

test('every field comes out as asked (@peculiar/x509 and node:crypto read it back)', (t) => {
  const der = buildCertificate(base);
  const node = new X509Certificate(der);
  t.is(node.subject, 'CN=leaf.example');
  t.is(node.issuer, 'CN=Example CA');
  t.is(node.serialNumber, '0BADC0FFEE');
  t.is(new Date(node.validFrom).toISOString(), '2026-01-02T03:04:05.000Z');
  t.is(new Date(node.validTo).toISOString(), '2027-01-02T03:04:05.000Z');
  t.true(node.publicKey.equals(subject.publicKey));
  t.true(node.verify(issuer.publicKey));
  const p = new PeculiarX509(der);
  t.deepEqual(
    [...p.extensions].map((e) => e.type),
    ['2.5.29.15', '2.5.29.37', '2.5.29.19', '2.5.29.35', '2.5.29.17', '1.3.9901.3.1', '1.2.3.4'],
  );
  const ku = p.getExtension(KeyUsagesExtension);
  t.is(ku?.usages, KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment);
  t.true(ku?.critical);
  t.deepEqual([...(p.getExtension(ExtendedKeyUsageExtension)?.usages ?? [])], [OID.serverAuth, OID.clientAuth]);
  const bc = p.getExtension(BasicConstraintsExtension);
  t.is(bc?.ca, false);
  t.true(bc?.critical);
  t.is(
    p.getExtension(AuthorityKeyIdentifierExtension)?.keyId,
    keyIdentifier(spkiOf(issuer.privateKey)).toString('hex'),
  );
  t.deepEqual(p.getExtension(SubjectAlternativeNameExtension)?.names.toJSON(), [
    { type: 'dns', value: 'leaf.example' },
    { type: 'ip', value: '10.0.0.7' },
    { type: 'ip', value: 'fd00::1' },
    { type: 'url', value: 'spiffe://example/ns/x' },
  ]);
  t.deepEqual(Buffer.from(p.getExtension('1.3.9901.3.1')?.value ?? new ArrayBuffer(0)), Buffer.from('secret-id'));
  t.true(p.getExtension('1.2.3.4')?.critical);
});

test('openssl x509 -text reads the same fields', (t) => {
  const text = opensslText(buildCertificate(base));
  t.regex(text, /Version: 3 \(0x2\)/);
  t.regex(text, /Serial Number: 50159747054 \(0xbadc0ffee\)/);
  t.regex(text, /Signature Algorithm: ecdsa-with-SHA384/);
  t.regex(text, /Issuer: CN ?= ?Example CA/);
  t.regex(text, /Subject: CN ?= ?leaf\.example/);
  t.regex(text, /Not Before: Jan {2}2 03:04:05 2026 GMT/);
  t.regex(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment/);
  t.regex(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
  t.regex(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
  t.regex(
    text,
    /DNS:leaf\.example, IP Address:10\.0\.0\.7, IP Address:FD00:0:0:0:0:0:0:1, URI:spiffe:\/\/example\/ns\/x/,
  );
  t.regex(text, /NIST CURVE: P-256/);
});

test('self-signed by default; a CA with keyCertSign and a subject key identifier; no extension fields writes no extensions', (t) => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const plain = buildCertificate({
    subject: 'Contrast',
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 1000),
    publicKey: key.publicKey,
    signingKey: key.privateKey,
  });
  const node = new X509Certificate(plain);
  t.true(node.checkIssued(node));
  t.regex(node.serialNumber, /^[0-7][0-9A-F]{31}$/);
  t.is(new PeculiarX509(plain).extensions.length, 0);
  t.regex(opensslText(plain), /Signature Algorithm: ecdsa-with-SHA256/);
  const ca = new PeculiarX509(
    buildCertificate({
      ...base,
      keyUsage: ['keyCertSign', 'cRLSign', 'decipherOnly'],
      basicConstraints: { ca: true },
      subjectKeyIdentifier: true,
    }),
  );
  t.is(ca.getExtension(SubjectKeyIdentifierExtension)?.keyId, keyIdentifier(spkiOf(subject.publicKey)).toString('hex'));
  t.is(
    ca.getExtension(KeyUsagesExtension)?.usages,
    KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.decipherOnly,
  );
  t.true(ca.getExtension(BasicConstraintsExtension)?.ca);
  const empty = buildCertificate({
    subject: undefined,
    notBefore: new Date(),
    notAfter: new Date(),
    publicKey: key.publicKey,
    signingKey: key.privateKey,
    extensions: [],
  });
  t.is(new X509Certificate(empty).subject, '');
});

const BAD: ReadonlyArray<readonly [string, Partial<CertificateSpec>, string]> = [
  ['notAfter before notBefore', { notAfter: new Date('2025-01-01T00:00:00Z') }, 'ERR_X509_SPEC'],
  ['invalid date', { notBefore: new Date(Number.NaN) }, 'ERR_X509_SPEC'],
  ['year past 9999', { notAfter: new Date('+010000-01-01T00:00:00Z') }, 'ERR_X509_SPEC'],
  ['empty serial', { serial: Buffer.alloc(0) }, 'ERR_X509_SPEC'],
  ['zero serial', { serial: Buffer.alloc(4) }, 'ERR_X509_SPEC'],
  ['21-byte serial', { serial: Buffer.alloc(21, 1) }, 'ERR_X509_SPEC'],
  ['bad extension OID', { extensions: [{ oid: 'not.an.oid', value: Buffer.alloc(0) }] }, 'ERR_X509_SPEC'],
  ['bad EKU OID', { extKeyUsage: ['1.3.x'] }, 'ERR_X509_SPEC'],
  ['unknown key usage', { keyUsage: ['flying' as never] }, 'ERR_X509_SPEC'],
  ['empty key usage', { keyUsage: [] }, 'ERR_X509_SPEC'],
  ['public signing key', { signingKey: issuer.publicKey }, 'ERR_PKI_KEY_TYPE'],
  [
    'RSA signing key',
    { signingKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey },
    'ERR_PKI_KEY_TYPE',
  ],
  ['Ed25519 subject key', { publicKey: generateKeyPairSync('ed25519').publicKey }, 'ERR_PKI_KEY_TYPE'],
];

for (const [name, change, code] of BAD) {
  test(`bad input is a typed error: ${name}`, (t) => {
    t.throws(() => buildCertificate({ ...base, ...change }), { code });
  });
}
