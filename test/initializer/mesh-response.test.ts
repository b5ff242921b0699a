import test from 'ava';
import { generateWorkloadKey } from '../../initializer/workload-key.js';
import {
  CLOCK_SKEW_MS,
  parseCertificates,
  validateMeshCerts,
  type MeshCerts,
} from '../../initializer/mesh-response.js';
import { ResponseInvalidError } from '../../initializer/errors.js';
import { createLocalCA } from './helpers/local-ca.js';

const ca = await createLocalCA();
const other = await createLocalCA();
const key = generateWorkloadKey();
const valid = await ca.issue(key.publicKey, { workloadSecretId: 'apps/v1/Deployment/default/web' });

const tamper = async (): Promise<[string, MeshCerts, string][]> => [
  ['leaf for another key', await ca.issue(generateWorkloadKey().publicKey), 'CertChain'],
  [
    'leaf not signed by the mesh CA',
    { ...valid, certChain: Buffer.from(await ca.signLeafWith(other, key.publicKey)) },
    'CertChain',
  ],
  ['mesh CA from another Coordinator', { ...valid, meshCACert: Buffer.from(other.meshCAPem) }, 'CertChain'],
  [
    'mesh CA is a leaf',
    { ...valid, meshCACert: valid.certChain.subarray(0, valid.certChain.indexOf('-----END CERTIFICATE-----') + 26) },
    'MeshCACert',
  ],
  ['empty chain', { ...valid, certChain: Buffer.alloc(0) }, 'CertChain'],
  ['garbage mesh CA', { ...valid, meshCACert: Buffer.from('hello') }, 'MeshCACert'],
  ['empty root', { ...valid, rootCACert: Buffer.alloc(0) }, 'RootCACert'],
  ['private key block in the chain', { ...valid, certChain: Buffer.from(key.pkcs8Pem) }, 'CertChain'],
  [
    'corrupted base64',
    { ...valid, meshCACert: Buffer.from(ca.meshCAPem.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA')) },
    'MeshCACert',
  ],
  [
    'text after the blocks',
    { ...valid, rootCACert: Buffer.concat([valid.rootCACert, Buffer.from('trailing')]) },
    'RootCACert',
  ],
  ['truncated chain', { ...valid, certChain: valid.certChain.subarray(0, 200) }, 'CertChain'],
];

const cases = await tamper();

test('a valid answer passes and exposes leaf and mesh CA', (t) => {
  const v = validateMeshCerts(valid, key.publicKey);
  t.is(v.meshCA.subject, 'CN=system:coordinator:intermediate');
  t.true(v.leaf.publicKey.equals(key.publicKey));
  t.is(v.certChain, valid.certChain);
});

for (const [name, certs, field] of cases) {
  test(`rejected: ${name}`, (t) => {
    const err = t.throws(() => validateMeshCerts(certs, key.publicKey), { instanceOf: ResponseInvalidError });
    t.is(err.code, 'ERR_INIT_RESPONSE_INVALID');
    t.is(err.field, field);
  });
}

test('rejected: an expired leaf', (t) => {
  const err = t.throws(() => validateMeshCerts(valid, key.publicKey, new Date(Date.now() + 2 * 365 * 86400_000)), {
    instanceOf: ResponseInvalidError,
  });
  t.regex(err.message, /expired/);
});

test('rejected: a leaf that starts in 5 years; the error names both times and the pod clock', async (t) => {
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 + 5 * 365 * 86400_000);
  const notAfter = new Date(notBefore.getTime() + 365 * 86400_000);
  const future = await ca.issue(key.publicKey, { notBefore, notAfter });
  const now = new Date();
  const err = t.throws(() => validateMeshCerts(future, key.publicKey, now), { instanceOf: ResponseInvalidError });
  t.is(err.code, 'ERR_INIT_RESPONSE_INVALID');
  t.is(err.field, 'CertChain');
  t.regex(err.message, /not valid yet/);
  t.true(err.message.includes(notBefore.toISOString()), err.message);
  t.true(err.message.includes(notAfter.toISOString()), err.message);
  t.true(err.message.includes(now.toISOString()), err.message);
});

test('notBefore ahead of the pod clock: accepted within the skew allowance, refused beyond it', async (t) => {
  const start = new Date(Math.floor(Date.now() / 1000) * 1000);
  const certs = await ca.issue(key.publicKey, { notBefore: start, notAfter: new Date(start.getTime() + 86400_000) });
  // The pod's clock lags the Coordinator's by just under, then just over, the allowance.
  t.notThrows(() => validateMeshCerts(certs, key.publicKey, new Date(start.getTime() - CLOCK_SKEW_MS + 1000)));
  t.notThrows(() => validateMeshCerts(certs, key.publicKey, new Date(start.getTime() - CLOCK_SKEW_MS)));
  const err = t.throws(
    () => validateMeshCerts(certs, key.publicKey, new Date(start.getTime() - CLOCK_SKEW_MS - 1000)),
    { instanceOf: ResponseInvalidError },
  );
  t.regex(err.message, /not valid yet/);
});

test('every prefix of a PEM field is either rejected or a complete set of blocks', (t) => {
  const text = valid.certChain;
  for (let n = 0; n < text.length; n += 7) {
    try {
      const certs = parseCertificates('CertChain', text.subarray(0, n));
      t.true(certs.length >= 1);
    } catch (err) {
      t.is((err as ResponseInvalidError).code, 'ERR_INIT_RESPONSE_INVALID');
    }
  }
  t.is(parseCertificates('CertChain', text).length, 2);
});
