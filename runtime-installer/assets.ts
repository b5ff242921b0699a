/**
 * Laying down artifacts in two phases so that a failure changes nothing: `stage` checks whether the
 * destination is already up to date and otherwise fetches into a temporary file beside it (verifying
 * SRI while streaming); `commit` renames every staged file into place; `abort` removes temporaries and
 * the directories staging created. The rename gives a busy executable a new inode, so a running shim
 * keeps its old file (the unlink-and-create semantics upstream applies on ETXTBSY).
 */
import { createHash, type Hash } from 'node:crypto';
import { chmod, copyFile, mkdir, open, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import type { Logger } from '../lib/log.js';
import { syncDir, tempPath } from '../lib/fs-atomic.js';
import { FetchError, IntegrityError } from './errors.js';
import { readFileSource, readHttpSource, type ByteSink, type HttpOptions } from './asset-source.js';
import type { Sri } from './sri.js';
import { errorCode, errorMessage } from '../lib/errors.js';

export interface AssetSpec {
  readonly url: URL;
  /** Absolute destination including HOST_MOUNT. */
  readonly dest: string;
  readonly integrity: Sri | undefined;
  readonly executable: boolean;
}

export interface StagedAsset {
  readonly spec: AssetSpec;
  /** Position in the manifest: commits happen in this order (the last entry for a path wins). */
  readonly order: number;
  /** Temporary file to rename into place; undefined when the destination is up to date. */
  readonly temp: string | undefined;
}

export interface Staging {
  readonly assets: StagedAsset[];
  /** Directories created while staging, parents first. */
  readonly createdDirs: string[];
}

export function newStaging(): Staging {
  return { assets: [], createdDirs: [] };
}

export interface StageContext {
  readonly log: Logger;
  readonly http: HttpOptions;
  readonly signal?: AbortSignal;
}

/**
 * Stages one artifact. On error, nothing of this artifact is left (the caller aborts the rest).
 * Several stages may run concurrently on one Staging.
 */
export async function stageAsset(spec: AssetSpec, staging: Staging, ctx: StageContext, order = staging.assets.length): Promise<StagedAsset> {
  await mkdirTracked(dirname(spec.dest), staging.createdDirs);
  const current = await stat(spec.dest).catch(() => undefined);
  if (current !== undefined && !current.isFile()) throw new FetchError(`${spec.dest} exists and is not a regular file`);
  if (current !== undefined && (await upToDate(spec, current.size))) {
    const staged = { spec, order, temp: undefined };
    staging.assets.push(staged);
    return staged;
  }
  const temp = tempPath(spec.dest, 'contrast-tmp');
  const mode = spec.executable ? 0o755 : current !== undefined ? current.mode & 0o7777 : 0o644;
  try {
    if (spec.integrity === undefined && spec.url.protocol === 'file:') {
      // No digest to check: let the kernel copy (copy_file_range / reflink).
      await copyFile(fileURLToPath(spec.url), temp).catch((err: unknown) => {
        throw new FetchError(`reading ${spec.url.href}: ${errorMessage(err)}`, { cause: err });
      });
      const fh = await open(temp, 'r+');
      await fh.sync().finally(() => fh.close());
    } else {
      await fetchVerified(spec, temp, ctx);
    }
    await chmod(temp, mode);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  const staged = { spec, order, temp };
  staging.assets.push(staged);
  return staged;
}

/** Renames every staged file into place and applies 0755 to unchanged executables. */
export async function commitStaging(staging: Staging): Promise<{ changed: number; unchanged: number }> {
  let changed = 0;
  const dirs = new Set<string>();
  for (const a of [...staging.assets].sort((x, y) => x.order - y.order)) {
    if (a.temp === undefined) {
      if (a.spec.executable) await chmod(a.spec.dest, 0o755);
      continue;
    }
    await rename(a.temp, a.spec.dest);
    dirs.add(dirname(a.spec.dest));
    changed++;
  }
  for (const d of dirs) await syncDir(d);
  return { changed, unchanged: staging.assets.length - changed };
}

/** Removes temporaries and the directories staging created (deepest first, only when empty). */
export async function abortStaging(staging: Staging): Promise<void> {
  for (const a of staging.assets) if (a.temp !== undefined) await unlink(a.temp).catch(() => undefined);
  // Deepest first (concurrent stages may have recorded a child before its parent).
  for (const d of [...staging.createdDirs].sort((a, b) => b.length - a.length)) await rmdir(d).catch(() => undefined);
}

async function mkdirTracked(dir: string, created: string[]): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    const st = await stat(d).catch(() => undefined);
    if (st !== undefined) {
      if (!st.isDirectory()) throw new FetchError(`${d} exists and is not a directory`);
      break;
    }
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      await mkdir(d, { mode: 0o755 });
      created.push(d);
    } catch (err) {
      // A concurrent stage created it (and recorded it) first.
      if (errorCode(err) !== 'EEXIST') throw err;
    }
  }
}

/** With SRI: the destination's digest matches. Without: its bytes equal the `file://` source's. */
async function upToDate(spec: AssetSpec, size: number): Promise<boolean> {
  if (spec.integrity !== undefined) {
    const hash = createHash(spec.integrity.algorithm);
    await readFileSource(new URL(`file://${encodePath(spec.dest)}`), { reset: () => Promise.resolve(), write: (c) => { hash.update(c); return Promise.resolve(); } });
    return hash.digest().equals(spec.integrity.digest);
  }
  if (spec.url.protocol !== 'file:') return false;
  const src = fileURLToPath(spec.url);
  const srcStat = await stat(src).catch((err: unknown) => {
    throw new FetchError(`reading ${spec.url.href}: ${errorMessage(err)}`, { cause: err });
  });
  if (srcStat.size !== size) return false;
  return sameBytes(src, spec.dest);
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const size = 1 << 20;
    const ba = Buffer.allocUnsafe(size);
    const bb = Buffer.allocUnsafe(size);
    for (;;) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, size, null), fb.read(bb, 0, size, null)]);
      if (ra.bytesRead !== rb.bytesRead) return false;
      if (ra.bytesRead === 0) return true;
      if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

/** Fetches into `temp`, hashing on the way; throws IntegrityError on a digest mismatch. */
async function fetchVerified(spec: AssetSpec, temp: string, ctx: StageContext): Promise<void> {
  const fh: FileHandle = await open(temp, 'wx', 0o600);
  let hash: Hash | undefined;
  const algorithm = spec.integrity?.algorithm;
  const sink: ByteSink = {
    async reset() {
      await fh.truncate(0);
      hash = algorithm === undefined ? undefined : createHash(algorithm);
      position = 0;
    },
    async write(chunk) {
      hash?.update(chunk);
      await fh.write(chunk, 0, chunk.length, position);
      position += chunk.length;
    },
  };
  let position = 0;
  try {
    if (spec.url.protocol === 'file:') {
      await sink.reset();
      await readFileSource(spec.url, sink);
    } else {
      await readHttpSource(spec.url, sink, ctx.http, ctx.log, ctx.signal);
    }
    if (spec.integrity !== undefined && hash !== undefined) {
      const got = hash.digest();
      if (!got.equals(spec.integrity.digest)) {
        throw new IntegrityError(`${spec.url.href}: content digest ${spec.integrity.algorithm}-${got.toString('base64')} does not match integrity ${spec.integrity.text}`);
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}
