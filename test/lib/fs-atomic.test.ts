import test from 'ava';
import { mkdtemp, readFile, readdir, rm, stat, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/fs-atomic.js';

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
