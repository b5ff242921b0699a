/**
 * The TLS directory in renewal mode: every set of files is one generation, replaced as a whole.
 *
 *   tls-config/
 *     ..gen-2/            the files of generation 2 (mesh-ca.pem, certChain.pem, key.pem,
 *                         coordinator-root-ca.pem, generation), written before anything points here
 *     ..gen-1/            the previous generation, kept until generation 3 is in place
 *     ..data -> ..gen-2   the commit point: a symlink replaced by one rename
 *     mesh-ca.pem -> ..data/mesh-ca.pem      (likewise certChain.pem, key.pem, coordinator-root-ca.pem)
 *     generation          "2\n", a regular file, replaced after `..data`
 *
 * Order for generation N: (1) `..gen-N/` with every file (each written atomically, fsynced) and its own
 * `generation` last, directory fsynced; (2) `..data` switched to it by renaming a new symlink over it
 * (every upstream path now resolves to the new set at once); (3) the per-file symlinks, created where
 * missing; (4) `generation` replaced atomically; (5) generations older than N-1 removed. A reader that
 * resolves `..data` once and reads from that directory always sees one complete generation; a reader
 * that opens the upstream paths one by one may straddle a switch and should compare `..data/generation`
 * before and after (the top-level `generation` changes only after the switch: it says "generation N is
 * complete", for watchers). A crash leaves `..data` on the old or the new generation, never a partial one.
 */
import { lstat, readFile, readdir, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ensureDir, syncDir, writeFileAtomic } from '../lib/fs-atomic.js';
import { TLS_DATA_LINK, TLS_GENERATION_FILE } from '../lib/pod-layout.js';

export interface GenerationFile {
  /** A plain file name inside the TLS directory. */
  readonly name: string;
  readonly data: string | Buffer;
  readonly mode: number;
}

const GEN_PREFIX = '..gen-';

/** The generation the directory holds now (its `generation` file), or 0 when there is none. */
export async function currentGeneration(tlsDir: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(join(tlsDir, TLS_GENERATION_FILE), 'utf8');
  } catch {
    return 0;
  }
  const n = /^\d{1,15}\n?$/.test(text) ? Number(text.trim()) : 0;
  return Number.isSafeInteger(n) ? n : 0;
}

/** Writes `files` as generation `n` of `tlsDir` (see the module comment); returns the paths written. */
export async function writeGeneration(
  tlsDir: string,
  files: readonly GenerationFile[],
  n: number,
  dirMode = 0o755,
): Promise<string[]> {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`generation ${n}: expected an integer of at least 1`);
  await ensureDir(tlsDir, dirMode);
  await sweepTemporary(tlsDir);
  const genName = `${GEN_PREFIX}${n}`;
  const genDir = join(tlsDir, genName);
  // A directory of this number can only be a leftover of a run killed before its switch.
  if ((await readlink(join(tlsDir, TLS_DATA_LINK)).catch(() => undefined)) !== genName)
    await rm(genDir, { recursive: true, force: true });
  await ensureDir(genDir, dirMode);
  for (const f of files) await writeFileAtomic(join(genDir, f.name), f.data, { mode: f.mode });
  await writeFileAtomic(join(genDir, TLS_GENERATION_FILE), `${n}\n`, { mode: 0o444 });
  await syncDir(genDir);

  await replaceWithSymlink(tlsDir, TLS_DATA_LINK, genName);
  for (const f of files) {
    const target = join(TLS_DATA_LINK, f.name);
    if ((await readlink(join(tlsDir, f.name)).catch(() => undefined)) !== target)
      await replaceWithSymlink(tlsDir, f.name, target);
  }
  await writeFileAtomic(join(tlsDir, TLS_GENERATION_FILE), `${n}\n`, { mode: 0o444, skipIfSame: false });
  await removeOldGenerations(tlsDir, n - 1);
  return [...files.map((f) => join(tlsDir, f.name)), join(tlsDir, TLS_GENERATION_FILE)];
}

/** `name` in `dir` becomes a symlink to `target` in one rename (a file or an older symlink is replaced). */
async function replaceWithSymlink(dir: string, name: string, target: string): Promise<void> {
  const tmp = join(dir, `.${name}.tmp-${randomBytes(6).toString('hex')}`);
  await symlink(target, tmp);
  try {
    await rename(tmp, join(dir, name));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

/** Generation directories below `keepFrom`, and symlinks/files of killed runs (`.<name>.tmp-<hex>`). */
async function removeOldGenerations(tlsDir: string, keepFrom: number): Promise<void> {
  for (const entry of await readdir(tlsDir)) {
    if (!entry.startsWith(GEN_PREFIX)) continue;
    const k = Number(entry.slice(GEN_PREFIX.length));
    if (Number.isSafeInteger(k) && k < keepFrom) await rm(join(tlsDir, entry), { recursive: true, force: true });
  }
}

async function sweepTemporary(tlsDir: string): Promise<void> {
  for (const entry of await readdir(tlsDir)) {
    if (!/^\..+\.tmp-[0-9a-f]+$/.test(entry)) continue;
    const path = join(tlsDir, entry);
    const st = await lstat(path).catch(() => undefined);
    if (st !== undefined && !st.isDirectory()) await unlink(path).catch(() => undefined);
  }
}
