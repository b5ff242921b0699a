/**
 * The DER reader for a peer certificate's validity and extensions, against @peculiar/x509 (asn1js) on
 * certificates of several profiles, and fed every truncated prefix of one.
 */
import 'reflect-metadata';
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import {
  BasicConstraintsExtension,
  Extension,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  X509Certificate,
} from '@peculiar/x509';
import { createAtlsCertificate } from '../../lib/coordinator/atls-client-certificate.js';
import { readCertificateFields, readTime } from '../../lib/x509/certificate-fields.js';
import { DerError, readElement, TAG, time } from '../../lib/x509/der.js';
import { createMeshCa, newP384Key } from '../../lib/coordinator/ca.js';
import { issueMeshCert } from '../../lib/coordinator/mesh-cert.js';
import { peculiarCert } from './helpers/peculiar-cert.js';

function generated(extensions: Extension[], notBefore: Date, notAfter: Date): Promise<Buffer> {
  return peculiarCert({ subject: 'CN=x', notBefore, notAfter, extensions });
}

async function samples(): Promise<Array<[string, Buffer]>> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const meshKey = await newP384Key();
  return [
    [
      'aTLS certificate',
      createAtlsCertificate({ privateKey, publicKey, document: { oid: '1.3.9901.2.3', value: Buffer.alloc(300, 7) } }),
    ],
    [
      'aTLS certificate after 2049',
      createAtlsCertificate({
        privateKey,
        publicKey,
        document: { oid: '1.3.9901.2.1', value: Buffer.alloc(1) },
        now: new Date('2050-01-01T00:30:00Z'),
      }),
    ],
    [
      'critical and non-critical extensions',
      await generated(
        [
          new Extension('1.3.9901.2.2', false, Buffer.from('doc')),
          new Extension('1.2.3.4', true, Buffer.from([5, 0])),
          new ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1']),
          new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
          new BasicConstraintsExtension(true, 2, true),
        ],
        new Date('1999-12-31T23:59:59Z'),
        new Date('2051-02-03T04:05:06Z'),
      ),
    ],
    ['no extensions', await generated([], new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'))],
    [
      'mesh certificate',
      issueMeshCert({
        issuerKey: meshKey,
        subjectPublicKey: publicKey,
        sans: ['a', '10.0.0.1'],
        workloadSecretID: 'w',
      }),
    ],
    ['mesh CA certificate', createMeshCa(await newP384Key(), meshKey).meshCACert],
  ];
}

test('validity and extensions as @peculiar/x509 reads them', async (t) => {
  for (const [name, der] of await samples()) {
    const ours = readCertificateFields(der);
    const theirs = new X509Certificate(der);
    t.is(ours.notBefore.getTime(), theirs.notBefore.getTime(), name);
    t.is(ours.notAfter.getTime(), theirs.notAfter.getTime(), name);
    t.deepEqual(
      ours.extensions.map((e) => ({ oid: e.oid, critical: e.critical, value: Buffer.from(e.value) })),
      [...theirs.extensions].map((e) => ({ oid: e.type, critical: e.critical, value: Buffer.from(e.value) })),
      name,
    );
  }
});

test('every truncated prefix, and trailing bytes, are rejected as DerError', async (t) => {
  const [[, der] = ['', Buffer.alloc(0)]] = await samples();
  for (let n = 0; n < der.length; n++)
    t.throws(() => readCertificateFields(der.subarray(0, n)), { instanceOf: DerError }, `prefix ${n}`);
  t.throws(() => readCertificateFields(Buffer.concat([der, Buffer.from([0])])), { instanceOf: DerError });
});

const times: Array<[string, number, string, string | undefined]> = [
  ['UTCTime 1950', TAG.UTC_TIME, '500101000000Z', '1950-01-01T00:00:00.000Z'],
  ['UTCTime 2049', TAG.UTC_TIME, '491231235959Z', '2049-12-31T23:59:59.000Z'],
  ['UTCTime without seconds', TAG.UTC_TIME, '2611291200Z', '2026-11-29T12:00:00.000Z'],
  ['GeneralizedTime', TAG.GENERALIZED_TIME, '20500101000000Z', '2050-01-01T00:00:00.000Z'],
  ['local time', TAG.UTC_TIME, '261129120000', undefined],
  ['offset', TAG.UTC_TIME, '261129120000+0100', undefined],
  ['February 30', TAG.UTC_TIME, '260230120000Z', undefined],
  ['hour 24', TAG.GENERALIZED_TIME, '20261129240000Z', undefined],
  ['not a time type', TAG.OCTET_STRING, '261129120000Z', undefined],
];
for (const [name, tag, text, iso] of times) {
  test(`time: ${name}`, (t) => {
    const body = Buffer.from(text, 'latin1');
    const e = readElement(Buffer.concat([Buffer.from([tag, body.length]), body]));
    if (iso === undefined) t.throws(() => readTime(e), { instanceOf: DerError });
    else t.is(readTime(e).toISOString(), iso);
  });
}

test('time() and readTime() round-trip', (t) => {
  for (const iso of [
    '1950-01-01T00:00:00Z',
    '2026-11-29T12:34:56Z',
    '2049-12-31T23:59:59Z',
    '2050-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
  ]) {
    t.is(readTime(readElement(time(new Date(iso)))).getTime(), Date.parse(iso), iso);
  }
});
