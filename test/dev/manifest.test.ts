/** The development Coordinator's manifest: accepted shapes and every problem reported at once. */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../lib/errors.js';
import { parseManifest } from '../../lib/coordinator/manifest.js';

const H = 'AB'.repeat(32);
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

test('our spelling and upstream spelling', (t) => {
  const a = parseManifest(
    JSON.stringify({
      policies: { [H]: { sans: ['web', '*'], workloadSecretID: 'id' } },
      referenceValues: { allowInsecure: true },
    }),
    'm.json',
  );
  t.deepEqual(a.policies.get(H.toLowerCase()), { sans: ['web', '*'], workloadSecretID: 'id' });
  t.true(a.referenceValues.allowInsecure);
  const b = parseManifest(
    JSON.stringify({
      Policies: { [H]: { SANs: ['db'], WorkloadSecretID: '' } },
      referenceValues: { snp: { trustedArks: [PEM] } },
    }),
    'm.json',
  );
  t.deepEqual(b.policies.get(H.toLowerCase()), { sans: ['db'] });
  t.deepEqual(b.referenceValues.snp, { trustedArkPems: [PEM] });
  t.false(b.referenceValues.allowInsecure);
});

test('trust anchors from files relative to the manifest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `dev-manifest-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ark.pem'), PEM);
  const m = parseManifest(
    JSON.stringify({
      policies: {},
      referenceValues: { snp: { trustedArks: ['ark.pem'] }, tdx: { trustedRoots: [join(dir, 'ark.pem')] } },
    }),
    join(dir, 'manifest.json'),
  );
  t.deepEqual(m.referenceValues.snp?.trustedArkPems, [PEM]);
  t.deepEqual(m.referenceValues.tdx?.trustedRootPems, [PEM]);
});

const bad: Array<[string, string, RegExp[]]> = [
  ['not JSON', '{', [/expected JSON/]],
  ['not an object', '[]', [/expected a JSON object/]],
  [
    'everything wrong at once',
    JSON.stringify({
      policies: { xyz: { sans: [''] }, [H]: 'no' },
      referenceValues: { allowInsecure: 'yes', snp: { trustedArks: ['/nonexistent/ark.pem'] } },
    }),
    [
      /policies\["xyz"\]: key: expected 64 hex digits/,
      /policies\["xyz"\]\.sans: expected an array of non-empty strings/,
      new RegExp(`policies\\["${H}"\\]: expected an object`),
      /allowInsecure: expected true or false/,
      /trustedArks\[0\]: cannot read \/nonexistent\/ark.pem/,
    ],
  ],
  ['no accepted kind', JSON.stringify({ policies: {}, referenceValues: {} }), [/accepts no attestation document/]],
  ['missing sections', JSON.stringify({}), [/policies: expected an object/, /referenceValues: expected an object/]],
];
for (const [name, text, patterns] of bad) {
  test(`rejected: ${name}`, (t) => {
    const err = t.throws(() => parseManifest(text, 'm.json'), { instanceOf: ConfigError });
    t.is(err.code, 'ERR_CONFIG');
    for (const p of patterns)
      t.true(
        err.problems.some((line) => p.test(line) && line.startsWith('manifest m.json')),
        `${String(p)} in ${err.problems.join(' | ')}`,
      );
    t.is(err.problems.length, patterns.length);
  });
}
