/**
 * The issuing path (what the initializer loads on SEV-SNP and TDX pods: platform.ts and the issuer
 * modules it imports dynamically) must not load protobufjs or the document schemas: the documents are
 * encoded by lib/protobuf/writer.ts (and since lib/protobuf replaced protobufjs at run time, no
 * program loads protobufjs). Checked twice: statically, on esbuild's metafile of a bundle that follows
 * static and dynamic imports from platform.ts; and at run time, in a fresh Node process that loads the
 * issuing modules, encodes both documents, and looks for protobufjs in the module cache (with a positive
 * control: importing protobufjs, as the tests' reference adapter does, must put it there).
 */
import test from 'ava';
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FORBIDDEN = [
  /node_modules\/protobufjs\//,
  /node_modules\/@protobufjs\//,
  /^lib\/attestation\/(proto|document-messages)\.ts$/,
  /^lib\/protobuf\/message\.ts$/,
];

test('the bundle of platform.ts and the SNP/TDX issuer modules holds no protobufjs and no schemas', async (t) => {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [
      'lib/attestation/platform.ts',
      'lib/attestation/snp-issuer.ts',
      'lib/attestation/snp-kds.ts',
      'lib/attestation/tdx-issuer.ts',
      'lib/attestation/snp-document-encode.ts',
      'lib/attestation/tdx-document-encode.ts',
    ],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    write: false,
    metafile: true,
    outdir: 'out',
    logLevel: 'silent',
    external: ['*.node'],
  });
  const inputs = Object.keys(result.metafile.inputs);
  t.true(
    inputs.includes('lib/attestation/snp-issuer.ts') &&
      inputs.includes('lib/attestation/tdx-issuer.ts') &&
      inputs.includes('lib/protobuf/writer.ts'),
    'the dynamic imports of platform.ts are followed',
  );
  const bad = inputs.filter((p) => FORBIDDEN.some((re) => re.test(p)));
  const importers = bad.map(
    (p) =>
      `${p} <- ${Object.entries(result.metafile.inputs)
        .filter(([, v]) => v.imports.some((i) => i.path === p))
        .map(([k]) => k)
        .join(', ')}`,
  );
  t.deepEqual(importers, []);
});

const CHILD = `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const require = createRequire(import.meta.url);
const loaded = () => Object.keys(require.cache).filter((p) => p.includes('/node_modules/protobufjs/'));
const seen = {};
await import('./lib/attestation/platform.ts');
await import('./lib/attestation/native-tee.ts');
await import('./lib/attestation/snp-kds.ts');
await import('./lib/attestation/snp-issuer.ts');
await import('./lib/attestation/tdx-issuer.ts');
const { parseSnpReport } = await import('./lib/attestation/snp-report.ts');
const { encodeSnpDocument } = await import('./lib/attestation/snp-document-encode.ts');
const { parseTdxQuote } = await import('./lib/attestation/tdx-quote.ts');
const { encodeTdxDocument } = await import('./lib/attestation/tdx-document-encode.ts');
const snp = encodeSnpDocument({ report: parseSnpReport(readFileSync('test/fixtures/attestation/snp/milan-report.bin')), product: 'Milan', machineStepping: 0 });
const tdx = encodeTdxDocument(parseTdxQuote(readFileSync('test/fixtures/attestation/tdx/spr-e4-quote-v4.dat')));
seen.issuing = loaded();
seen.encoded = snp.length > 0 && tdx.length > 0;
await import('./lib/attestation/snp-document.ts');
seen.lib = loaded();
await import('./test/protobuf/protobufjs-reference.ts');
seen.decoders = loaded();
process.stdout.write(JSON.stringify(seen));
`;

test('a fresh process that loads the issuing modules and encodes both documents has not loaded protobufjs', (t) => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  const seen = JSON.parse(out) as { issuing: string[]; encoded: boolean; lib: string[]; decoders: string[] };
  t.true(seen.encoded);
  t.deepEqual(seen.issuing, []);
  t.deepEqual(seen.lib, [], 'the decoders are on lib/protobuf too');
  t.true(
    seen.decoders.length > 0,
    'positive control: the protobufjs reference adapter loads it, and the check sees it',
  );
});
