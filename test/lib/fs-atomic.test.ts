import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finalNameOfTemp, removeStaleTemps, tempPath, writeFileAtomic } from '../../lib/fs-atomic.js';

test('writes with the mode, skips identical content, rewrites on mode change', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'key.pem');
  t.true(await writeFileAtomic(file, 'abc', { mode: 0o400 }));
  t.is((await stat(file)).mode & 0o777, 0o400);
  t.is(await readFile(file, 'utf8'), 'abc');
  const ino = (await stat(file)).ino;
  t.false(await writeFileAtomic(file, 'abc', { mode: 0o400 }));
  t.is((await stat(file)).ino, ino, 'an identical write must not replace the file');
  await chmod(file, 0o644);
  t.true(await writeFileAtomic(file, 'abc', { mode: 0o400 }));
  t.true(await writeFileAtomic(file, 'abcd', { mode: 0o400 }));
  t.is(await readFile(file, 'utf8'), 'abcd');
  t.deepEqual(await readdir(dir), ['key.pem'], 'no temporary file is left behind');
});

test('a failed write leaves no temporary file and no final file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const err = await t.throwsAsync(writeFileAtomic(join(dir, 'missing', 'x'), 'abc'));
  t.is((err as NodeJS.ErrnoException).code, 'ENOENT');
  t.deepEqual(await readdir(dir), []);
});

/** An "outside" tree whose bytes must survive every cleanup. */
async function outsideTree(root: string): Promise<{ dir: string; file: string; snapshot: () => Promise<string> }> {
  const dir = join(root, 'outside');
  await mkdir(join(dir, 'sub'), { recursive: true });
  await writeFile(join(dir, 'precious'), 'do not touch');
  await writeFile(join(dir, 'sub', 'deeper'), 'nor this');
  const snapshot = async (): Promise<string> => {
    const out: string[] = [];
    for (const rel of ['', 'sub']) {
      for (const name of (await readdir(join(dir, rel))).sort()) {
        const p = join(dir, rel, name);
        const st = await lstat(p);
        out.push(
          `${join(rel, name)} ${st.mode.toString(8)} ${st.isFile() ? (await readFile(p)).toString('base64') : '-'}`,
        );
      }
    }
    return out.join('\n');
  };
  return { dir, file: join(dir, 'precious'), snapshot };
}

test('removeStaleTemps removes whatever sits under a temporary name, never following a link', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'atomic-stale-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const outside = await outsideTree(root);
  const before = await outside.snapshot();
  const dir = join(root, 'tls');
  await mkdir(dir);
  await writeFile(join(dir, 'key.pem'), 'final');
  await writeFile(join(dir, '.key.pem.tmp-0123456789ab'), 'half a key');
  await mkdir(join(dir, '.certChain.pem.tmp-aaaaaaaaaaaa', 'nested'), { recursive: true });
  await writeFile(join(dir, '.certChain.pem.tmp-aaaaaaaaaaaa', 'nested', 'f'), 'x');
  await symlink(outside.dir, join(dir, '.certChain.pem.tmp-aaaaaaaaaaaa', 'link-out'));
  await symlink(outside.dir, join(dir, '.mesh-ca.pem.tmp-bbbbbbbbbbbb'));
  await symlink(outside.file, join(dir, '.mesh-ca.pem.contrast-tmp-cccccccccccc'));
  await symlink(join(root, 'nowhere'), join(dir, '.key.pem.tmp-dddddddddddd'));
  execFileSync('mkfifo', [join(dir, '.coordinator-root-ca.pem.tmp-eeeeeeeeeeee')]);
  // Not ours: another final name, not the temporary scheme, the final file itself.
  const keep = [
    'key.pem',
    '.other.pem.tmp-0123456789ab',
    '.key.pem.tmp-xyz',
    '.key.pem.tmp-0123456789abc',
    'key.pem.tmp-0123456789ab',
  ];
  for (const k of keep.slice(1)) await writeFile(join(dir, k), 'keep');

  const ours = new Set(['key.pem', 'certChain.pem', 'mesh-ca.pem', 'coordinator-root-ca.pem']);
  const removed = await removeStaleTemps(dir, (name) => ours.has(name));
  t.is(removed.length, 6);
  t.deepEqual((await readdir(dir)).sort(), [...keep].sort());
  t.is(await readFile(join(dir, 'key.pem'), 'utf8'), 'final');
  t.is(await outside.snapshot(), before, 'the outside tree is byte for byte what it was');
  t.deepEqual(await removeStaleTemps(join(root, 'missing'), () => true), []);
});

test('tempPath and finalNameOfTemp agree on one naming scheme', (t) => {
  for (const tag of ['tmp', 'contrast-tmp'] as const) {
    const p = tempPath('/a/b/config.toml', tag);
    t.regex(p, new RegExp(`^/a/b/\\.config\\.toml\\.${tag}-[0-9a-f]{12}$`));
    t.is(finalNameOfTemp(p.slice('/a/b/'.length)), 'config.toml');
  }
  t.is(finalNameOfTemp('config.toml'), undefined);
});
