import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseReplacements } from '../../images/replacements.js';
import { VERSION } from '../../lib/version.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function images(
  t: import('ava').ExecutionContext,
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), `images-cli-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const out = join(dir, 'oci');
  const r = spawnSync(
    process.execPath,
    ['--import=tsx', join(ROOT, 'images/build.ts'), '--out', out, '--bundle-dir', join(dir, 'bundle'), ...args],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'], ...env },
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out };
}

test('an unknown target is refused before anything is built', (t) => {
  const r = images(t, ['no-such-image']);
  t.is(r.status, 1);
  t.regex(
    r.stderr,
    /^images: unknown image target no-such-image: expected one of initializer, meshproxy, runtime-installer, port-forwarder$/m,
  );
  t.false(existsSync(r.out));
});

test('a malformed SOURCE_DATE_EPOCH is refused before anything is bundled or built', (t) => {
  const r = images(t, ['port-forwarder'], { SOURCE_DATE_EPOCH: 'yesterday' });
  t.is(r.status, 1);
  t.regex(r.stderr, /SOURCE_DATE_EPOCH=yesterday: expected seconds since the epoch/);
  t.false(existsSync(r.out));
  t.false(existsSync(join(r.out, '..', 'bundle')));
});

test('a registry that is not an image reference is refused before anything is built', (t) => {
  for (const bad of ['Registry.example/UPPER', 'ghcr.io/acme/x:tag', 'ghcr.io/acme/x@sha256:00', 'a b']) {
    const r = images(t, ['--registry', bad, 'port-forwarder']);
    t.is(r.status, 1, bad);
    t.regex(r.stderr, /--registry .*: expected an image reference prefix/, bad);
    t.false(existsSync(r.out), bad);
  }
});

test('an unreadable or malformed upstream replacements list is refused before anything is built', (t) => {
  const r = images(t, ['--upstream-replacements', '/nonexistent/image-replacements.txt', 'port-forwarder']);
  t.is(r.status, 1);
  t.regex(r.stderr, /--upstream-replacements \/nonexistent\/image-replacements\.txt: cannot read it/);
  const dir = mkdtempSync(join(tmpdir(), `images-cli-up-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(join(dir, 'bad.txt'), 'no equals sign here\n');
  const bad = images(t, ['--upstream-replacements', join(dir, 'bad.txt'), 'port-forwarder']);
  t.is(bad.status, 1);
  t.regex(bad.stderr, /bad\.txt: invalid image line "no equals sign here"/);
  t.false(existsSync(bad.out));
});

test("image-replacements.txt names the built image by digest under the registry, keeps upstream's other lines, parses as upstream does", (t) => {
  const dir = mkdtempSync(join(tmpdir(), `images-cli-rep-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const upstreamList = [
    '# release list',
    'ghcr.io/edgelesssys/contrast/coordinator:latest=ghcr.io/edgelesssys/contrast/coordinator:v1.17.0@sha256:' +
      'a'.repeat(64),
    'ghcr.io/edgelesssys/contrast/port-forwarder:latest=ghcr.io/edgelesssys/contrast/port-forwarder:v1.17.0@sha256:' +
      'b'.repeat(64),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'upstream.txt'), upstreamList);
  const r = images(t, [
    '--registry',
    '127.0.0.1:5000/contrast-ts',
    '--upstream-replacements',
    join(dir, 'upstream.txt'),
    'port-forwarder',
  ]);
  t.is(r.status, 0, r.stderr);
  const digest = /built +port-forwarder +(sha256:[0-9a-f]{64})/.exec(r.stdout)?.[1];
  t.truthy(digest, r.stdout);
  const text = readFileSync(join(r.out, 'image-replacements.txt'), 'utf8');
  const parsed = parseReplacements(text, 'out');
  t.is(
    parsed.get('ghcr.io/edgelesssys/contrast/port-forwarder:latest'),
    `127.0.0.1:5000/contrast-ts/port-forwarder:${VERSION}@${digest!}`,
  );
  t.is(
    parsed.get('ghcr.io/edgelesssys/contrast/coordinator:latest'),
    'ghcr.io/edgelesssys/contrast/coordinator:v1.17.0@sha256:' + 'a'.repeat(64),
  );
  t.is(parsed.size, 2, text);
  // The manifest digest in the file is the one the OCI layout holds.
  const index = JSON.parse(readFileSync(join(r.out, 'port-forwarder', 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  t.is(index.manifests[0]!.digest, digest!);
});
