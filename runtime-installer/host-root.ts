/**
 * The node's filesystem under HOST_MOUNT, confined the way a container runtime confines itself to a
 * rootfs: every path is resolved component by component by the kernel, relative to a directory fd of
 * the mount (openat2 with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), and every write, rename, mkdir,
 * chmod, read and delete acts on one name relative to a directory fd obtained that way (temp file +
 * renameat in the same directory fd, unlinkat, mkdirat, fchmod of an fd opened with O_NOFOLLOW).
 *
 * Links inside the mount that stay inside it (relative targets) are followed. A link that would lead
 * out (an absolute target, or `..` climbing above the mount) or a /proc magic link is refused with a
 * HostPathError naming it. On kernels without openat2 (ENOSYS) a userspace walk with O_NOFOLLOW and
 * readlinkat applies the same rules (racy against a concurrent attacker on the host, unlike openat2).
 */
import { closeSync, fchmodSync, fsync, read, write } from 'node:fs';
import { tempName } from '../lib/fs-atomic.js';
import { join, posix, resolve as resolvePath } from 'node:path';
import { promisify } from 'node:util';
import { FsAt, FsAtCallError, type FsAtStat } from '../lib/native/fsat.js';
import { HostPathError } from './errors.js';
import { errorMessage } from '../lib/errors.js';

const writeAsync = promisify(write);
const fsyncAsync = promisify(fsync);

/** Links followed per resolution at most (the kernel's limit). */
const MAX_LINKS = 40;

export type Resolver = 'openat2' | 'walk';

export interface HostRootOptions {
  readonly fs?: FsAt;
  /** Force a resolver (tests); default openat2, falling back to the walk on ENOSYS. */
  readonly resolver?: Resolver;
}

function errnoOf(err: unknown): string | undefined {
  return err instanceof FsAtCallError ? err.errnoCode : undefined;
}

export class HostRoot {
  private resolverInUse: Resolver;

  private constructor(
    readonly mount: string,
    private readonly fs: FsAt,
    private readonly rootFd: number,
    resolver: Resolver,
  ) {
    this.resolverInUse = resolver;
  }

  /** Opens the mount itself (its own path is trusted configuration and may contain links). */
  static open(mount: string, options: HostRootOptions = {}): HostRoot {
    const fs = options.fs ?? new FsAt();
    const c = fs.constants;
    const abs = resolvePath(mount);
    let fd: number;
    try {
      fd = fs.openat(c.AT_FDCWD, abs, c.O_RDONLY | c.O_DIRECTORY);
    } catch (err) {
      throw new HostPathError(`HOST_MOUNT=${mount}: expected a directory (${errorMessage(err)})`, { cause: err });
    }
    return new HostRoot(abs, fs, fd, options.resolver ?? 'openat2');
  }

  /** The resolver in use: `walk` after openat2 answered ENOSYS. */
  get resolver(): Resolver {
    return this.resolverInUse;
  }

  close(): void {
    closeSync(this.rootFd);
  }

  /** Host-relative components of an absolute path inside the mount. */
  components(path: string): string[] {
    const abs = posix.normalize(path);
    if (abs !== this.mount && !abs.startsWith(`${this.mount === '/' ? '' : this.mount}/`)) {
      throw new HostPathError(`${path}: expected a path inside HOST_MOUNT ${this.mount}`);
    }
    const parts = abs
      .slice(this.mount.length)
      .split('/')
      .filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw new HostPathError(`${path}: expected a path without '..'`);
    return parts;
  }

  /** The absolute path of a host path (`/etc/x` → `<mount>/etc/x`). */
  onHost(hostPath: string): string {
    const parts = hostPath.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw new HostPathError(`host path ${hostPath}: expected a path without '..'`);
    return join(this.mount, ...parts);
  }

  /** The host path of an absolute path inside the mount (`<mount>/etc/x` → `/etc/x`). */
  hostPathOf(path: string): string {
    return `/${this.components(path).join('/')}`;
  }

  private display(parts: readonly string[]): string {
    return join(this.mount, ...parts);
  }

  // ---- resolution -------------------------------------------------------------------------

  /**
   * Opens `parts` (relative to the mount) with `flags`, following links that stay inside.
   * Throws FsAtCallError (ENOENT, ENOTDIR, …) or HostPathError for a link leading out.
   */
  private openResolved(parts: readonly string[], flags: number, mode = 0): number {
    const c = this.fs.constants;
    if (this.resolverInUse === 'openat2') {
      try {
        return this.fs.openat2(this.rootFd, parts.length === 0 ? '.' : parts.join('/'), {
          flags,
          mode,
          resolve: c.RESOLVE_BENEATH | c.RESOLVE_NO_MAGICLINKS,
        });
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOSYS') this.resolverInUse = 'walk';
        else if (code === 'EXDEV' || code === 'ELOOP') {
          // Name the link: the walk applies the same rules and says which component leads out.
          this.walk(parts, true);
          throw new HostPathError(`${this.display(parts)}: a path component leads out of HOST_MOUNT ${this.mount}`, {
            cause: err,
          });
        } else throw err;
      }
    }
    const resolved = this.walk(parts, true);
    const last = resolved.pop();
    const dir = this.walkPlain(resolved);
    try {
      return last === undefined
        ? this.fs.openat(dir, '.', flags, mode)
        : this.fs.openat(dir, last, flags | c.O_NOFOLLOW, mode);
    } finally {
      closeSync(dir);
    }
  }

  /**
   * Userspace resolution of `parts` under the kernel's RESOLVE_BENEATH rules: returns the link-free
   * component list. Throws HostPathError naming a link that leads out (absolute target, `..` above the
   * mount) and FsAtCallError ENOENT/ENOTDIR/ELOOP like the kernel.
   */
  private walk(parts: readonly string[], followLast: boolean): string[] {
    const c = this.fs.constants;
    const resolved: string[] = [];
    const queue = [...parts];
    let links = 0;
    let via: string | undefined;
    let dir = this.fs.openat(this.rootFd, '.', c.O_RDONLY | c.O_DIRECTORY);
    try {
      while (queue.length > 0) {
        const name = queue.shift() as string;
        if (name === '' || name === '.') continue;
        if (name === '..') {
          if (resolved.length === 0) {
            throw new HostPathError(
              `${via ?? this.display(parts)} leads out of HOST_MOUNT ${this.mount} ('..' above the mount): expected links that stay inside it`,
            );
          }
          resolved.pop();
          closeSync(dir);
          dir = this.walkPlain(resolved);
          continue;
        }
        let st: FsAtStat;
        try {
          st = this.fs.lstatat(dir, name);
        } catch (err) {
          if (errnoOf(err) === 'ENOENT' && queue.length === 0) {
            resolved.push(name);
            return resolved;
          }
          throw err;
        }
        if (st.isSymbolicLink() && (queue.length > 0 || followLast)) {
          if (++links > MAX_LINKS)
            throw new FsAtCallError(
              `${this.display([...resolved, name])}: too many levels of symbolic links`,
              'ELOOP',
              40,
              'walk',
            );
          const target = this.fs.readlinkat(dir, name);
          const link = this.display([...resolved, name]);
          if (target.startsWith('/')) {
            throw new HostPathError(
              `${link} is a symbolic link to ${target}, which leads out of HOST_MOUNT ${this.mount}: expected links inside the mount to be relative and stay inside it`,
            );
          }
          via = `${link} (a symbolic link to ${target})`;
          queue.unshift(...target.split('/'));
          continue;
        }
        if (queue.length === 0) {
          resolved.push(name);
          return resolved;
        }
        if (!st.isDirectory())
          throw new FsAtCallError(`${this.display([...resolved, name])}: not a directory`, 'ENOTDIR', 20, 'walk');
        const next = this.fs.openat(dir, name, c.O_RDONLY | c.O_DIRECTORY | c.O_NOFOLLOW);
        closeSync(dir);
        dir = next;
        resolved.push(name);
      }
      return resolved;
    } finally {
      closeSync(dir);
    }
  }

  /** Opens a link-free directory path component by component with O_NOFOLLOW. */
  private walkPlain(parts: readonly string[]): number {
    const c = this.fs.constants;
    let dir = this.fs.openat(this.rootFd, '.', c.O_RDONLY | c.O_DIRECTORY);
    for (const name of parts) {
      try {
        const next = this.fs.openat(dir, name, c.O_RDONLY | c.O_DIRECTORY | c.O_NOFOLLOW);
        closeSync(dir);
        dir = next;
      } catch (err) {
        closeSync(dir);
        throw err;
      }
    }
    return dir;
  }

  /** A directory fd for `parts`, or undefined when it does not exist. */
  private openDir(parts: readonly string[]): number | undefined {
    const c = this.fs.constants;
    try {
      return this.openResolved(parts, c.O_RDONLY | c.O_DIRECTORY);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return undefined;
      throw this.describe(err, parts);
    }
  }

  private describe(err: unknown, parts: readonly string[]): unknown {
    const code = errnoOf(err);
    if (code === 'ENOTDIR')
      return new HostPathError(`${this.display(parts)}: a path component is not a directory`, { cause: err });
    if (code === 'ELOOP')
      return new HostPathError(`${this.display(parts)}: too many levels of symbolic links`, { cause: err });
    return err;
  }

  /** Runs fn with a directory fd of `dir` (absolute path inside the mount); undefined when missing. */
  private async withDir<T>(dir: string, fn: (fd: number) => Promise<T> | T): Promise<T | undefined> {
    const fd = this.openDir(this.components(dir));
    if (fd === undefined) return undefined;
    try {
      return await fn(fd);
    } finally {
      closeSync(fd);
    }
  }

  private async withParent<T>(
    path: string,
    fn: (dirfd: number, name: string) => Promise<T> | T,
  ): Promise<T | undefined> {
    const parts = this.components(path);
    const name = parts.pop();
    if (name === undefined) throw new HostPathError(`${path}: expected a path below HOST_MOUNT ${this.mount}`);
    const fd = this.openDir(parts);
    if (fd === undefined) return undefined;
    try {
      return await fn(fd, name);
    } finally {
      closeSync(fd);
    }
  }

  // ---- operations -------------------------------------------------------------------------

  /** mkdir -p inside the mount; pushes each directory it creates (absolute, parents first) to `created`. */
  mkdirp(dir: string, mode = 0o755, created?: string[]): void {
    const parts = this.components(dir);
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i);
      const fd = this.openDir(prefix);
      if (fd !== undefined) {
        closeSync(fd);
        continue;
      }
      const parent = this.openDir(parts.slice(0, i - 1));
      if (parent === undefined) throw new HostPathError(`${this.display(prefix.slice(0, -1))}: expected a directory`);
      try {
        this.fs.mkdirat(parent, prefix[i - 1] as string, mode);
        created?.push(this.display(prefix));
      } catch (err) {
        // EEXIST: created concurrently, or a link to a missing directory (found just below).
        if (errnoOf(err) !== 'EEXIST') throw this.describe(err, prefix);
      } finally {
        closeSync(parent);
      }
      const again = this.openDir(prefix);
      if (again === undefined)
        throw new HostPathError(
          `${this.display(prefix)} is a symbolic link to a missing directory: expected a directory`,
        );
      closeSync(again);
    }
  }

  /** lstat of the last component (not followed); undefined when it or a parent does not exist. */
  async lstat(path: string): Promise<FsAtStat | undefined> {
    return this.withParent(path, (dirfd, name) => {
      try {
        return this.fs.lstatat(dirfd, name);
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') return undefined;
        throw err;
      }
    });
  }

  /** Opens a file for reading (links inside the mount followed); undefined when missing. */
  openRead(path: string): number | undefined {
    const parts = this.components(path);
    try {
      return this.openResolved(parts, this.fs.constants.O_RDONLY);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return undefined;
      throw this.describe(err, parts);
    }
  }

  /** stat of a path, links inside the mount followed; undefined when missing. */
  statFollow(path: string): FsAtStat | undefined {
    const fd = this.openRead(path);
    if (fd === undefined) return undefined;
    try {
      return this.fstat(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** rm -r inside the mount without following any link (links are removed, not entered). */
  async removeTree(path: string): Promise<void> {
    const st = await this.lstat(path);
    if (st === undefined) return;
    if (st.isDirectory()) {
      for (const name of await this.readdir(path)) await this.removeTree(join(path, name));
      await this.rmdir(path);
    } else {
      await this.unlink(path);
    }
  }

  /** Stat of an open fd. */
  fstat(fd: number): FsAtStat {
    return this.fs.lstatat(fd);
  }

  /**
   * Reads a whole file (links inside followed); undefined when missing. With `maxBytes`, a larger file
   * is refused by `tooLarge(size)` before any of it is read.
   */
  async readFile(
    path: string,
    options: { maxBytes?: number; tooLarge?: (size: number) => Error } = {},
  ): Promise<Buffer | undefined> {
    const fd = this.openRead(path);
    if (fd === undefined) return undefined;
    try {
      const st = this.fstat(fd);
      if (!st.isFile()) throw new HostPathError(`${path}: expected a regular file`);
      const limit = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
      const tooLarge =
        options.tooLarge ??
        ((size: number) => new HostPathError(`${path} has ${size} bytes: expected at most ${limit}`));
      if (st.size > limit) throw tooLarge(st.size);
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const buf = Buffer.allocUnsafe(Math.min(1 << 20, limit - total + 1));
        const n = await readAt(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
        total += n;
        // The file grew after fstat: still refused without reading it whole.
        if (total > limit) throw tooLarge(total);
      }
      return Buffer.concat(chunks, total);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Creates a new file `name` (O_EXCL, never through a link) in directory `dir`, which must exist.
   * Returns the fd, open for writing.
   */
  async createExclusive(dir: string, name: string, mode = 0o600): Promise<number> {
    const c = this.fs.constants;
    const fd = await this.withDir(dir, (dirfd) =>
      this.fs.openat(dirfd, name, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, mode),
    );
    if (fd === undefined) throw new HostPathError(`${dir}: expected an existing directory`);
    return fd;
  }

  /** Renames within one directory (renameat on its fd); a link at `to` is replaced, not followed. */
  async renameIn(dir: string, from: string, to: string): Promise<void> {
    const done = await this.withDir(dir, (dirfd) => {
      this.fs.renameat(dirfd, from, dirfd, to);
      return true;
    });
    if (done === undefined) throw new HostPathError(`${dir}: expected an existing directory`);
  }

  /** Removes a file or link (never what it points to). Returns false when it did not exist. */
  async unlink(path: string): Promise<boolean> {
    const r = await this.withParent(path, (dirfd, name) => {
      try {
        this.fs.unlinkat(dirfd, name);
        return true;
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') return false;
        throw err;
      }
    });
    return r ?? false;
  }

  /** Removes an empty directory. Returns false when it is missing, not empty or not a directory. */
  async rmdir(path: string): Promise<boolean> {
    const r = await this.withParent(path, (dirfd, name) => {
      try {
        this.fs.unlinkat(dirfd, name, { dir: true });
        return true;
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') return false;
        throw err;
      }
    });
    return r ?? false;
  }

  /** chmod of a regular file, opened with O_NOFOLLOW (a link there is refused). */
  async chmod(path: string, mode: number): Promise<void> {
    const c = this.fs.constants;
    const done = await this.withParent(path, (dirfd, name) => {
      let fd: number;
      try {
        fd = this.fs.openat(dirfd, name, c.O_RDONLY | c.O_NOFOLLOW);
      } catch (err) {
        if (errnoOf(err) === 'ELOOP')
          throw new HostPathError(`${path} is a symbolic link: expected a regular file`, { cause: err });
        throw err;
      }
      try {
        fchmodSync(fd, mode);
      } finally {
        closeSync(fd);
      }
      return true;
    });
    if (done === undefined) throw new HostPathError(`${path}: expected an existing file`);
  }

  /** Names in a directory; [] when it does not exist. */
  async readdir(dir: string): Promise<string[]> {
    return (await this.withDir(dir, (fd) => this.fs.readdirat(fd))) ?? [];
  }

  /** fsync of a directory (after renames in it). */
  async syncDir(dir: string): Promise<void> {
    await this.withDir(dir, (fd) => fsyncAsync(fd));
  }

  /**
   * Atomic write inside the mount: `.<name>.tmp-<hex>` created in the directory fd, written, fsynced,
   * chmodded, renamed over `name`, directory fsynced. Skipped when the file already holds these bytes
   * and this mode. The directory must exist. Returns whether it wrote.
   */
  async writeFileAtomic(
    path: string,
    data: string | Uint8Array,
    options: { mode?: number; skipIfSame?: boolean } = {},
  ): Promise<boolean> {
    const mode = options.mode ?? 0o644;
    const bytes =
      typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const c = this.fs.constants;
    const parts = this.components(path);
    const name = parts.pop();
    if (name === undefined) throw new HostPathError(`${path}: expected a path below HOST_MOUNT ${this.mount}`);
    const dirfd = this.openDir(parts);
    if (dirfd === undefined) throw new HostPathError(`${this.display(parts)}: expected an existing directory`);
    try {
      if (options.skipIfSame !== false && (await this.sameContent(dirfd, name, bytes, mode))) return false;
      const tmp = tempName(name);
      const fd = this.fs.openat(dirfd, tmp, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, 0o600);
      try {
        await writeAll(fd, bytes);
        await fsyncAsync(fd);
        fchmodSync(fd, mode);
        closeSync(fd);
        this.fs.renameat(dirfd, tmp, dirfd, name);
      } catch (err) {
        try {
          closeSync(fd);
        } catch {
          /* already closed */
        }
        try {
          this.fs.unlinkat(dirfd, tmp);
        } catch {
          /* gone */
        }
        throw err;
      }
      await fsyncAsync(dirfd);
      return true;
    } finally {
      closeSync(dirfd);
    }
  }

  private async sameContent(dirfd: number, name: string, bytes: Buffer, mode: number): Promise<boolean> {
    const c = this.fs.constants;
    let fd: number;
    try {
      fd = this.fs.openat(dirfd, name, c.O_RDONLY | c.O_NOFOLLOW);
    } catch {
      return false;
    }
    try {
      const st = this.fs.lstatat(fd);
      if (!st.isFile() || st.size !== bytes.length || (st.mode & 0o7777) !== mode) return false;
      const buf = Buffer.alloc(bytes.length);
      let off = 0;
      while (off < buf.length) {
        const n = await readAt(fd, buf, off, buf.length - off, off);
        if (n === 0) return false;
        off += n;
      }
      return buf.equals(bytes);
    } finally {
      closeSync(fd);
    }
  }
}

export async function writeAll(fd: number, bytes: Uint8Array, position?: number): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await writeAsync(
      fd,
      bytes,
      off,
      bytes.length - off,
      position === undefined ? null : position + off,
    );
    off += bytesWritten;
  }
}

/** pread(2) on an fd; resolves to the number of bytes read. */
export function readAt(
  fd: number,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number | null,
): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, offset, length, position, (err, n) => {
      if (err) reject(err);
      else resolve(n);
    });
  });
}
