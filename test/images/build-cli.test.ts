import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function images(t: import('ava').ExecutionContext, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), `images-cli-${process.pid}-`));
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }); });
  const out = join(dir, 'oci');
  const r = spawnSync(process.execPath, ['--import=tsx', join(ROOT, 'images/build.ts'), '--out', out, '--bundle-dir', join(dir, 'bundle'), ...args], {
    cwd: ROOT, encoding: 'utf8', env: { PATH: process.env['PATH'], ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out };
}

test('an unknown target is refused before anything is built', (t) => {
  const r = images(t, ['no-such-image']);
  t.is(r.status, 1);
  t.regex(r.stderr, /^images: unknown image target no-such-image: expected one of initializer, meshproxy, runtime-installer, port-forwarder$/m);
  t.false(existsSync(r.out));
});

test('a malformed SOURCE_DATE_EPOCH is refused before anything is bundled or built', (t) => {
  const r = images(t, ['port-forwarder'], { SOURCE_DATE_EPOCH: 'yesterday' });
  t.is(r.status, 1);
  t.regex(r.stderr, /SOURCE_DATE_EPOCH=yesterday: expected seconds since the epoch/);
  t.false(existsSync(r.out));
  t.false(existsSync(join(r.out, '..', 'bundle')));
});
