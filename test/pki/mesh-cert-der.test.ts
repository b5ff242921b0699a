/**
 * The hand-written mesh certificate against the @peculiar/x509 generator it replaced: for the same
 * inputs, every TBSCertificate field but the random serial is byte-for-byte the same, and both verify.
 */
import test from 'ava';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { newP384Key } from '../../lib/coordinator/ca.js';
import { ipBytes, issueMeshCert, type MeshCertParams } from '../../lib/coordinator/mesh-cert.js';
import { KeyTypeError } from '../../lib/x509/webcrypto.js';
import { peculiarMeshCert } from './helpers/peculiar-mesh-cert.js';
import { tbsFields } from './helpers/tbs-fields.js';

const rows: Array<[string, Omit<MeshCertParams, 'issuerKey' | 'subjectPublicKey'>]> = [
  [
    'all SAN kinds, secret ID, extra extension',
    {
      sans: [
        '10.0.0.7',
        'web',
        'spiffe://cluster/ns/web',
        '*',
        'fd00::1',
        'web.default.svc',
        '::',
        '2001:db8::8:800:200c:417a',
      ],
      workloadSecretID: 'apps/v1/Deployment/default/web',
      extraExtensions: [{ oid: '1.3.9901.2.1.23', value: Buffer.from([0x04, 0x02, 0xab, 0xcd]) }],
    },
  ],
  ['no SANs: empty subject, no SAN extension', { sans: [] }],
  ['only IP SANs: empty subject', { sans: ['192.168.0.1', '::1'] }],
  ['subject not printable: UTF8String', { sans: ['*.svc.cluster.local', 'my_svc'] }],
  ['non-ASCII secret ID and DNS name', { sans: ['dienst-ä'], workloadSecretID: 'geheimnis/ü' }],
  ['empty secret ID: no extension', { sans: ['db'], workloadSecretID: '' }],
  [
    'many extensions (long lengths)',
    {
      sans: Array.from({ length: 40 }, (_, i) => `host-${i}.example`),
      extraExtensions: Array.from({ length: 40 }, (_, i) => ({
        oid: `1.3.9901.2.1.${i + 1}`,
        value: Buffer.alloc(200, i),
      })),
    },
  ],
  ['validity after 2049: GeneralizedTime', { sans: ['late'], now: new Date('2049-06-01T00:00:00Z') }],
];

for (const [name, row] of rows) {
  test(`same profile as the @peculiar/x509 generator: ${name}`, async (t) => {
    const issuerKey = await newP384Key();
    const subjectPublicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const params = { now: new Date('2026-06-01T12:00:00.345Z'), ...row, issuerKey, subjectPublicKey };
    const ours = issueMeshCert(params);
    const reference = await peculiarMeshCert(params);
    const a = tbsFields(ours);
    const b = tbsFields(reference);
    t.is(a.length, b.length);
    for (let i = 0; i < b.length; i++) {
      if (i === 1) continue; // the serial: random in ours
      t.deepEqual(a[i], b[i], `TBSCertificate field ${i}`);
    }
    t.regex(a[1]?.toString('hex') ?? '', /^0210[0-7][0-9a-f]{31}$/);
    t.true(new X509Certificate(ours).verify(createPublicKey(issuerKey)));
    t.true(new X509Certificate(reference).verify(createPublicKey(issuerKey)));
  });
}

test('IP SAN bytes', (t) => {
  t.is(ipBytes('10.0.0.7').toString('hex'), '0a000007');
  t.is(ipBytes('::').toString('hex'), '0'.repeat(32));
  t.is(ipBytes('fd00::1').toString('hex'), 'fd00' + '0'.repeat(26) + '01');
  t.is(ipBytes('::ffff:10.0.0.1').toString('hex'), '00000000000000000000ffff0a000001');
  t.is(ipBytes('1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
});

test('key checks: the issuer must be a private EC key, the subject an EC key', async (t) => {
  const p384 = await newP384Key();
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  t.throws(() => issueMeshCert({ issuerKey: createPublicKey(p384), subjectPublicKey: p256.publicKey, sans: [] }), {
    instanceOf: KeyTypeError,
  });
  t.throws(
    () => issueMeshCert({ issuerKey: p384, subjectPublicKey: generateKeyPairSync('ed25519').publicKey, sans: [] }),
    { instanceOf: KeyTypeError },
  );
});
