/**
 * Atomic, idempotent file writes: compare before writing; write a temporary file in the same directory,
 * fsync, chmod, rename, fsync the directory. A crash at any moment leaves either the old or the new file
 * under the final name, never a partial one.
 */
import { open, readFile, rename, unlink, mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of the result (default 0o644). Applied before the rename. */
  readonly mode?: number;
  /** Skip the write when the file already holds exactly these bytes and this mode (default true). */
  readonly skipIfSame?: boolean;
}

/** Returns true when the file was (re)written, false when it already matched. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<boolean> {
  const mode = options.mode ?? 0o644;
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if (options.skipIfSame !== false && (await sameContent(path, bytes, mode))) return false;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
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
