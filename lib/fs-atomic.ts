/**
 * Atomic, idempotent file writes: compare before writing; write a temporary file in the same directory,
 * fsync, chmod, rename, fsync the directory. A crash at any moment leaves either the old or the new file
 * under the final name, never a partial one.
 */
import { open, readFile, readdir, rename, rm, unlink, mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { errorCode } from './errors.js';

export interface AtomicWriteOptions {
  /** File mode of the result (default 0o644). Applied before the rename. */
  readonly mode?: number;
  /** Skip the write when the file already holds exactly these bytes and this mode (default true). */
  readonly skipIfSame?: boolean;
}

/**
 * Temporary names, one scheme for every program: `.<final name>.<tag>-<12 hex digits>` in the directory
 * of the final file. `tmp` is writeFileAtomic's; `contrast-tmp` is the runtime installer's staged
 * artifacts.
 */
export type TempTag = 'tmp' | 'contrast-tmp';
const TEMP_NAME = /^\.(.+)\.(?:contrast-)?tmp-[0-9a-f]{12}$/;

/** A fresh temporary name for the final name `name` (for writers that work in a directory fd). */
export function tempName(name: string, tag: TempTag = 'tmp'): string {
  return `.${name}.${tag}-${randomBytes(6).toString('hex')}`;
}

/** A fresh temporary path beside `path`. */
export function tempPath(path: string, tag: TempTag = 'tmp'): string {
  return join(dirname(path), tempName(basename(path), tag));
}

/** The final name a temporary name stands for, or undefined when `entry` is not a temporary name. */
export function finalNameOfTemp(entry: string): string | undefined {
  return TEMP_NAME.exec(entry)?.[1];
}

/**
 * Removes what an interrupted earlier run left in `dir` under a temporary name whose final name
 * `isOurs` accepts. Whatever is found there goes, whatever it is: a file, a directory with its
 * contents, a fifo, a socket, a symbolic link. Links are never followed: a link is removed as a link,
 * and a directory's contents are removed without following links inside it (`rm` works on lstat).
 * A missing `dir` has nothing stale. Returns the names removed.
 */
export async function removeStaleTemps(dir: string, isOurs: (finalName: string) => boolean): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const entry of entries.sort()) {
    const finalName = finalNameOfTemp(entry);
    if (finalName === undefined || !isOurs(finalName)) continue;
    // rm works on lstat: a link goes as a link, a directory's links are not followed either.
    await rm(join(dir, entry), { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}

/** Returns true when the file was (re)written, false when it already matched. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<boolean> {
  const mode = options.mode ?? 0o644;
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if (options.skipIfSame !== false && (await sameContent(path, bytes, mode))) return false;
  const dir = dirname(path);
  const tmp = tempPath(path);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.chmod(mode);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
  return true;
}

/** mkdir -p with a mode for the directories it creates. */
export async function ensureDir(path: string, mode = 0o755): Promise<void> {
  await mkdir(path, { recursive: true, mode });
}

/** fsync a directory so that a rename inside it is durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function sameContent(path: string, bytes: Uint8Array, mode: number): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return false;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size !== bytes.byteLength || (stat.mode & 0o7777) !== mode) return false;
    const current = await readFile(handle);
    return Buffer.compare(current, bytes) === 0;
  } finally {
    await handle.close();
  }
}
