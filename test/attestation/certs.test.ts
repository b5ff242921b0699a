import 'reflect-metadata';
import test from 'ava';
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as x509 from '@peculiar/x509';
import { loadCertificates } from '../../lib/attestation/certs.js';

const askArkPem = readFileSync(new URL('../fixtures/attestation/snp/ask-ark-milan.pem', import.meta.url), 'utf8');

test('DER bytes that embed a PEM certificate parse as themselves, not as the embedded one', async (t) => {
  x509.cryptoProvider.set(webcrypto);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=outer',
    keys,
    signingAlgorithm: alg,
    serialNumber: '01',
    // Like an aTLS certificate carrying a TDX document, whose PCK chain is PEM text.
    extensions: [new x509.Extension('1.3.9901.2.2', false, Buffer.from(askArkPem))],
  });
  const der = new Uint8Array(cert.rawData);
  t.true(Buffer.from(der).toString('latin1').includes('-----BEGIN CERTIFICATE-----'));
  const parsed = loadCertificates(der, 'outer');
  t.is(parsed.length, 1);
  t.is(parsed[0]!.subject, 'CN=outer');
});

test('PEM bundles still load every block; garbage bytes are a typed error', (t) => {
  t.is(loadCertificates(askArkPem, 'ask-ark').length, 2);
  const err = t.throws(() => loadCertificates(Buffer.from('nothing here'), 'junk'));
  t.is((err as { code?: string }).code, 'ERR_ATTESTATION_CERTIFICATE');
});
