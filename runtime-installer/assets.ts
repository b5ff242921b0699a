/**
 * Laying down artifacts in two phases so that a failure changes nothing: `stage` checks whether the
 * destination is already up to date and otherwise fetches into a temporary file beside it (verifying
 * SRI while streaming); `commit` renames every staged file into place; `abort` removes temporaries and
 * the directories staging created. The rename gives a busy executable a new inode, so a running shim
 * keeps its old file (the unlink-and-create semantics upstream applies on ETXTBSY).
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fchmodSync, fsync, ftruncate } from 'node:fs';
import { promisify } from 'node:util';
import { basename, dirname, join } from 'node:path';
import { open, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../lib/log.js';
import { tempName as newTempName } from '../lib/fs-atomic.js';
import { FetchError, IntegrityError } from './errors.js';
import { readFdSource, readFileSource, readHttpSource, type ByteSink, type HttpOptions } from './asset-source.js';
import { readAt, writeAll, type HostRoot } from './host-root.js';
import type { Sri } from '../lib/node-install/sri.js';
import { errorCode, errorMessage } from '../lib/errors.js';

const fsyncAsync = promisify(fsync);
const ftruncateAsync = promisify(ftruncate);

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
  /** The host filesystem every destination lives in (all access through its directory fds). */
  readonly host: HostRoot;
  readonly http: HttpOptions;
  readonly signal?: AbortSignal;
}

/**
 * Stages one artifact. On error, nothing of this artifact is left (the caller aborts the rest).
 * Several stages may run concurrently on one Staging.
 */
export async function stageAsset(
  spec: AssetSpec,
  staging: Staging,
  ctx: StageContext,
  order = staging.assets.length,
): Promise<StagedAsset> {
  const { host } = ctx;
  const dir = dirname(spec.dest);
  try {
    host.mkdirp(dir, 0o755, staging.createdDirs);
  } catch (err) {
    if (errorCode(err) === 'ERR_HOST_PATH') throw err;
    throw new FetchError(`creating ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  const current = await host.lstat(spec.dest);
  if (current !== undefined && !current.isFile()) throw new FetchError(`${spec.dest} exists and is not a regular file`);
  if (current !== undefined && (await upToDate(spec, current.size, host))) {
    const staged = { spec, order, temp: undefined };
    staging.assets.push(staged);
    return staged;
  }
  const tempName = newTempName(basename(spec.dest), 'contrast-tmp');
  const temp = join(dir, tempName);
  const mode = spec.executable ? 0o755 : current !== undefined ? current.mode & 0o7777 : 0o644;
  const fd = await host.createExclusive(dir, tempName, 0o600);
  try {
    try {
      await fetchVerified(spec, fd, ctx);
      fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    await host.unlink(temp).catch(() => undefined);
    throw err;
  }
  const staged = { spec, order, temp };
  staging.assets.push(staged);
  return staged;
}

/** Renames every staged file into place and applies 0755 to unchanged executables. */
export async function commitStaging(staging: Staging, host: HostRoot): Promise<{ changed: number; unchanged: number }> {
  let changed = 0;
  const dirs = new Set<string>();
  for (const a of [...staging.assets].sort((x, y) => x.order - y.order)) {
    if (a.temp === undefined) {
      if (a.spec.executable) await host.chmod(a.spec.dest, 0o755);
      continue;
    }
    await host.renameIn(dirname(a.spec.dest), basename(a.temp), basename(a.spec.dest));
    dirs.add(dirname(a.spec.dest));
    changed++;
  }
  for (const d of dirs) await host.syncDir(d);
  return { changed, unchanged: staging.assets.length - changed };
}

/** Removes temporaries and the directories staging created (deepest first, only when empty). */
export async function abortStaging(staging: Staging, host: HostRoot): Promise<void> {
  for (const a of staging.assets) if (a.temp !== undefined) await host.unlink(a.temp).catch(() => undefined);
  // Deepest first (concurrent stages may have recorded a child before its parent).
  for (const d of [...staging.createdDirs].sort((a, b) => b.length - a.length))
    await host.rmdir(d).catch(() => undefined);
}

/** With SRI: the destination's digest matches. Without: its bytes equal the `file://` source's. */
async function upToDate(spec: AssetSpec, size: number, host: HostRoot): Promise<boolean> {
  if (spec.integrity === undefined && spec.url.protocol !== 'file:') return false;
  let srcSize = size;
  if (spec.integrity === undefined) {
    srcSize = (
      await stat(fileURLToPath(spec.url)).catch((err: unknown) => {
        throw new FetchError(`reading ${spec.url.href}: ${errorMessage(err)}`, { cause: err });
      })
    ).size;
    if (srcSize !== size) return false;
  }
  const fd = host.openRead(spec.dest);
  if (fd === undefined) return false;
  try {
    if (spec.integrity !== undefined) {
      const hash = createHash(spec.integrity.algorithm);
      await readFdSource(fd, spec.dest, {
        reset: () => Promise.resolve(),
        write: (c) => {
          hash.update(c);
          return Promise.resolve();
        },
      });
      return hash.digest().equals(spec.integrity.digest);
    }
    return await sameBytes(fileURLToPath(spec.url), fd);
  } finally {
    closeSync(fd);
  }
}

async function sameBytes(src: string, destFd: number): Promise<boolean> {
  const fa = await open(src, 'r');
  try {
    const size = 1 << 20;
    const ba = Buffer.allocUnsafe(size);
    const bb = Buffer.allocUnsafe(size);
    for (let position = 0; ;) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, size, position), readAt(destFd, bb, 0, size, position)]);
      if (ra.bytesRead !== rb) return false;
      if (rb === 0) return true;
      if (!ba.subarray(0, rb).equals(bb.subarray(0, rb))) return false;
      position += rb;
    }
  } finally {
    await fa.close();
  }
}

/** Fetches into the open temp file `fd`, hashing on the way; throws IntegrityError on a digest mismatch. */
async function fetchVerified(spec: AssetSpec, fd: number, ctx: StageContext): Promise<void> {
  let hash: Hash | undefined;
  const algorithm = spec.integrity?.algorithm;
  let position = 0;
  let written = 0;
  const sink: ByteSink = {
    reset() {
      hash = algorithm === undefined ? undefined : createHash(algorithm);
      position = 0;
      return Promise.resolve();
    },
    async write(chunk) {
      hash?.update(chunk);
      await writeAll(fd, chunk, position);
      position += chunk.length;
      written = Math.max(written, position);
    },
  };
  if (spec.url.protocol === 'file:') {
    await sink.reset();
    await readFileSource(spec.url, sink);
  } else {
    await readHttpSource(spec.url, sink, ctx.http, ctx.log, ctx.signal);
  }
  if (written > position) await ftruncateAsync(fd, position);
  if (spec.integrity !== undefined && hash !== undefined) {
    const got = hash.digest();
    if (!got.equals(spec.integrity.digest)) {
      throw new IntegrityError(
        `${spec.url.href}: content digest ${spec.integrity.algorithm}-${got.toString('base64')} does not match integrity ${spec.integrity.text}`,
      );
    }
  }
  await fsyncAsync(fd);
}
