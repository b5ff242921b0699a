/**
 * The server's nonce CA certificate: read back with node:crypto and openssl, checked field by field
 * against the @peculiar/x509 generator it replaced, and its subject decoded the way the client does.
 */
import 'reflect-metadata';
import test from 'ava';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Name, X509CertificateGenerator } from '@peculiar/x509';
import { createNonceCaCertificate, nonceCaName } from '../../lib/coordinator/atls-nonce-ca.js';
import { newNonce, serverNonceFrom } from '../../lib/atls/nonce.js';
import { toPem } from '../../lib/x509/pem.js';
import { cryptoProvider, signingKey, verifyingKey } from '../../lib/x509/webcrypto.js';
import { runOpenssl } from './helpers/openssl-peer.js';
import { tbsFields } from '../pki/helpers/tbs-fields.js';

function p256Key(): { privateKey: KeyObject; publicKey: KeyObject; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}

test('self-signed, subject = issuer = CN=base64(nonce), valid now..now+365 d, read back by node and openssl', async (t) => {
  const key = p256Key();
  // 0xfb... encodes as '+/v7...': the characters that need escaping in a name's string form.
  const nonce = Buffer.concat([Buffer.alloc(3, 0xfb), newNonce().subarray(3)]);
  const now = new Date('2026-11-29T12:00:00.900Z');
  const der = createNonceCaCertificate({ nonce, privateKey: key.privateKey, spki: key.spki, now });
  const cert = new X509Certificate(der);
  // Node escapes '+' (an RDN separator) in its string form of the name.
  t.is(cert.subject, `CN=${nonce.toString('base64').replace(/\+/g, '\\+')}`);
  t.is(cert.issuer, cert.subject);
  t.true(cert.checkIssued(cert));
  t.true(cert.verify(key.publicKey));
  t.true(cert.publicKey.equals(key.publicKey));
  t.is(new Date(cert.validFrom).getTime(), Date.parse('2026-11-29T12:00:00Z'));
  t.is(new Date(cert.validTo).getTime(), Date.parse('2026-11-29T12:00:00Z') + 365 * 24 * 3600_000);
  t.regex(cert.serialNumber, /^[0-7][0-9A-F]{31}$/);
  // The Name in the certificate is the one the CertificateRequest carries; the client reads the nonce back.
  t.deepEqual(tbsFields(der)[3], nonceCaName(nonce));
  t.deepEqual(tbsFields(der)[5], nonceCaName(nonce));
  t.deepEqual(serverNonceFrom([nonceCaName(nonce)]), nonce);
  const dir = await mkdtemp(join(tmpdir(), `nonce-ca-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'c.pem'), toPem(der, 'CERTIFICATE'));
  const p = runOpenssl(['x509', '-in', join(dir, 'c.pem'), '-noout', '-text']);
  await p.exited;
  const text = p.output();
  t.regex(text, /Version: 3 \(0x2\)/);
  t.regex(text, /Signature Algorithm: ecdsa-with-SHA256/);
  t.regex(text, /NIST CURVE: P-256/);
  t.notRegex(text, /Negative/);
  const asn1 = runOpenssl(['asn1parse', '-in', join(dir, 'c.pem')]);
  await asn1.exited;
  t.regex(asn1.output(), /PRINTABLESTRING\s+:[A-Za-z0-9+/=]{44}\n/);
});

test('field for field the certificate @peculiar/x509 generated before (serial aside)', async (t) => {
  const key = p256Key();
  for (const nonce of [Buffer.alloc(32, 0xfb), newNonce(), Buffer.alloc(32, 0)]) {
    const now = new Date();
    const ours = createNonceCaCertificate({ nonce, privateKey: key.privateKey, spki: key.spki, now });
    const name = new Name([{ '2.5.4.3': [{ printableString: nonce.toString('base64') }] }]);
    const reference = await X509CertificateGenerator.create(
      {
        serialNumber: '01',
        subject: name,
        issuer: name,
        notBefore: now,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        publicKey: await verifyingKey(key.publicKey),
        signingKey: await signingKey(key.privateKey),
      },
      cryptoProvider,
    );
    const a = tbsFields(ours);
    const b = tbsFields(Buffer.from(reference.rawData));
    t.is(a.length, b.length);
    for (let i = 0; i < b.length; i++) if (i !== 1) t.deepEqual(a[i], b[i], `TBSCertificate field ${i}`);
  }
});

test('every certificate has its own serial', (t) => {
  const key = p256Key();
  const nonce = newNonce();
  const serials = new Set(
    Array.from(
      { length: 20 },
      () =>
        new X509Certificate(createNonceCaCertificate({ nonce, privateKey: key.privateKey, spki: key.spki }))
          .serialNumber,
    ),
  );
  t.is(serials.size, 20);
});
