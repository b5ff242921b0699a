/**
 * The TLS directory as generations (renewal mode): layout, modes, the counter, old generations removed,
 * leftovers of a killed run replaced, and readers that never see a mix while generations are switched.
 */
import test from 'ava';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentGeneration, writeGeneration } from '../../initializer/tls-generation.js';

const NAMES = ['mesh-ca.pem', 'certChain.pem', 'key.pem', 'coordinator-root-ca.pem'];
const set = (tag: string): { name: string; data: string; mode: number }[] =>
  NAMES.map((name) => ({ name, data: `${tag} ${name}\n`.repeat(50), mode: name === 'key.pem' ? 0o400 : 0o444 }));

async function tmp(t: { teardown(f: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `tls-gen-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'tls-config');
}

test('layout: ..gen-N with the files, ..data pointing to it, upstream names as symlinks, generation last', async (t) => {
  const dir = await tmp(t);
  t.is(await currentGeneration(dir), 0);
  const written = await writeGeneration(dir, set('one'), 1);
  t.deepEqual(written, [...NAMES.map((n) => join(dir, n)), join(dir, 'generation')]);
  t.is(await readlink(join(dir, '..data')), '..gen-1');
  for (const f of set('one')) {
    t.is(await readlink(join(dir, f.name)), join('..data', f.name));
    t.is(await readFile(join(dir, f.name), 'utf8'), f.data);
    t.is((await stat(join(dir, f.name))).mode & 0o7777, f.mode, f.name);
  }
  t.is(await readFile(join(dir, 'generation'), 'utf8'), '1\n');
  t.true((await lstat(join(dir, 'generation'))).isFile(), 'generation is a regular file');
  t.is((await stat(join(dir, 'generation'))).mode & 0o7777, 0o444);
  t.is(await readFile(join(dir, '..gen-1', 'generation'), 'utf8'), '1\n');
  t.is((await stat(dir)).mode & 0o7777, 0o755);
  t.is(await currentGeneration(dir), 1);

  await writeGeneration(dir, set('two'), 2);
  await writeGeneration(dir, set('three'), 3);
  t.is(await readFile(join(dir, 'certChain.pem'), 'utf8'), set('three')[1]?.data ?? '');
  t.is(await currentGeneration(dir), 3);
  t.deepEqual(
    (await readdir(dir)).filter((e) => e.startsWith('..gen-')).sort(),
    ['..gen-2', '..gen-3'],
    'the previous generation is kept, older ones go',
  );
  t.deepEqual(
    (await readdir(dir)).filter((e) => e.includes('.tmp-')),
    [],
    'no temporary files left',
  );
});

test('regular files of a run without renewal become symlinks into the first generation', async (t) => {
  const dir = await tmp(t);
  await mkdir(dir, { recursive: true });
  for (const n of NAMES) await writeFile(join(dir, n), 'old');
  await writeGeneration(dir, set('one'), 1);
  for (const n of NAMES) t.true((await lstat(join(dir, n))).isSymbolicLink(), n);
  t.is(await readFile(join(dir, 'key.pem'), 'utf8'), set('one')[2]?.data ?? '');
});

test('a generation directory left by a run killed before its switch is rebuilt, not trusted', async (t) => {
  const dir = await tmp(t);
  await writeGeneration(dir, set('one'), 1);
  await mkdir(join(dir, '..gen-2'));
  await writeFile(join(dir, '..gen-2', 'certChain.pem'), 'half written');
  await writeFile(join(dir, '.certChain.pem.tmp-abcdef'), 'stale');
  await writeGeneration(dir, set('two'), 2);
  t.is(await readFile(join(dir, 'certChain.pem'), 'utf8'), set('two')[1]?.data ?? '');
  t.deepEqual(
    (await readdir(dir)).filter((e) => e.includes('.tmp-')),
    [],
  );
});

test('bad generation numbers are refused before anything is written', async (t) => {
  const dir = await tmp(t);
  for (const n of [0, -1, 1.5, Number.NaN])
    await t.throwsAsync(writeGeneration(dir, set('x'), n), { instanceOf: RangeError });
  await t.throwsAsync(stat(dir), { code: 'ENOENT' });
});

test('readers never see a mix while generations switch under them', async (t) => {
  const dir = await tmp(t);
  await writeGeneration(dir, set('gen 1'), 1);
  let writing = true;
  const writer = (async () => {
    for (let n = 2; n <= 40; n++) await writeGeneration(dir, set(`gen ${n}`), n);
    writing = false;
  })();
  let resolvedReads = 0;
  let checkedReads = 0;
  let mixed = 0;
  while (writing) {
    // Contract 1: resolve ..data once, read everything from that directory.
    try {
      const base = await realpath(join(dir, '..data'));
      const texts = await Promise.all(NAMES.map((n) => readFile(join(base, n), 'utf8')));
      const gen = (await readFile(join(base, 'generation'), 'utf8')).trim();
      if (!texts.every((x) => x.startsWith(`gen ${gen} `))) mixed += 1;
      resolvedReads += 1;
    } catch (err) {
      // The generation before the previous one may be removed under a slow reader: never a mix.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // Contract 2: upstream paths, with `..data/generation` compared before and after.
    const before = await readFile(join(dir, '..data', 'generation'), 'utf8');
    const texts = await Promise.all(NAMES.map((n) => readFile(join(dir, n), 'utf8')));
    const after = await readFile(join(dir, '..data', 'generation'), 'utf8');
    if (before === after) {
      const tags = new Set(texts.map((x) => x.split(' ').slice(0, 2).join(' ')));
      if (tags.size !== 1) mixed += 1;
      checkedReads += 1;
    }
  }
  await writer;
  t.log(`${resolvedReads} resolved reads, ${checkedReads} checked reads`);
  t.true(resolvedReads > 0 && checkedReads > 0);
  t.is(mixed, 0);
  t.is(await currentGeneration(dir), 40);
});
