/**
 * Directory-fd file operations, the typed face of native/src/fsat.c.
 *
 * - `openat2()` resolves a path relative to a directory fd under the kernel's RESOLVE_* rules
 *   (RESOLVE_BENEATH: no absolute links, no `..` above the start; RESOLVE_IN_ROOT: the start is `/`;
 *   RESOLVE_NO_SYMLINKS, RESOLVE_NO_MAGICLINKS). Kernels before 5.6 answer ENOSYS.
 * - `openat`, `mkdirat`, `renameat`, `unlinkat`, `readlinkat`, `fstatat`, `readdirat` act on one name
 *   inside a directory fd; none of them follows a link at that name (openat only with O_NOFOLLOW).
 *
 * Every fd returned is close-on-exec; the caller closes it (fs.closeSync).
 */
import { ContrastError } from '../errors.js';
import { loadAddon } from './addon.js';
import { callNative, NativeCallError } from './call-error.js';

interface FsAtAddon {
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  openat(dirfd: number, path: string, flags: number, mode: number): number;
  mkdirat(dirfd: number, name: string, mode: number): void;
  renameat(olddirfd: number, oldname: string, newdirfd: number, newname: string): void;
  unlinkat(dirfd: number, name: string, flags: number): void;
  readlinkat(dirfd: number, name: string): string;
  fstatat(
    dirfd: number,
    name: string,
    flags: number,
  ): { mode: number; size: number; dev: number; ino: number; mtimeNs: bigint };
  readdirat(dirfd: number): string[];
  fsatConstants(): FsAtConstants;
}

export interface FsAtConstants {
  readonly O_RDONLY: number;
  readonly O_WRONLY: number;
  readonly O_RDWR: number;
  readonly O_CREAT: number;
  readonly O_EXCL: number;
  readonly O_TRUNC: number;
  readonly O_NOFOLLOW: number;
  readonly O_DIRECTORY: number;
  readonly O_PATH: number;
  readonly AT_FDCWD: number;
  readonly AT_REMOVEDIR: number;
  readonly AT_SYMLINK_NOFOLLOW: number;
  readonly AT_EMPTY_PATH: number;
  readonly RESOLVE_NO_XDEV: number;
  readonly RESOLVE_NO_MAGICLINKS: number;
  readonly RESOLVE_NO_SYMLINKS: number;
  readonly RESOLVE_BENEATH: number;
  readonly RESOLVE_IN_ROOT: number;
}

export interface FsAtStat {
  readonly mode: number;
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  readonly mtimeNs: bigint;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** A failed system call, with the errno name as `errnoCode` (e.g. EXDEV, ENOENT, ELOOP). */
export class FsAtCallError extends NativeCallError {
  readonly code = 'ERR_NATIVE_FS';
}

export class FsAtArgumentError extends ContrastError {
  readonly code = 'ERR_NATIVE_FS_ARGUMENT';
}

const S_IFMT = 0o170000;

function wrap<T>(what: string, call: () => T): T {
  return callNative(what, call, FsAtCallError, FsAtArgumentError);
}

function checkFd(fd: number, what: string, constants: FsAtConstants): void {
  if (!Number.isInteger(fd) || (fd < 0 && fd !== constants.AT_FDCWD))
    throw new FsAtArgumentError(`${what}: dirfd ${fd}: expected a file descriptor`);
}

function checkPath(path: string, what: string): void {
  if (typeof path !== 'string' || path === '' || path.includes('\0'))
    throw new FsAtArgumentError(`${what}: path ${JSON.stringify(path)}: expected a non-empty string without NUL`);
}

/** One path component: no `/`, not `.` or `..`. */
function checkName(name: string, what: string): void {
  checkPath(name, what);
  if (name.includes('/') || name === '.' || name === '..')
    throw new FsAtArgumentError(`${what}: name ${JSON.stringify(name)}: expected a single path component`);
}

/** The *at API bound to the loaded addon. */
export class FsAt {
  private readonly addon: FsAtAddon;
  readonly constants: FsAtConstants;

  constructor(addon: FsAtAddon = loadAddon<FsAtAddon>()) {
    this.addon = addon;
    this.constants = Object.freeze(addon.fsatConstants());
  }

  /** openat2(2); `resolve` is a mask of RESOLVE_* flags. Throws FsAtCallError with ENOSYS on old kernels. */
  openat2(dirfd: number, path: string, how: { flags: number; mode?: number; resolve: number }): number {
    const what = `openat2 ${path}`;
    checkFd(dirfd, what, this.constants);
    checkPath(path, what);
    return wrap(what, () => this.addon.openat2(dirfd, path, how.flags, how.mode ?? 0, how.resolve));
  }

  openat(dirfd: number, path: string, flags: number, mode = 0): number {
    const what = `openat ${path}`;
    checkFd(dirfd, what, this.constants);
    checkPath(path, what);
    return wrap(what, () => this.addon.openat(dirfd, path, flags, mode));
  }

  mkdirat(dirfd: number, name: string, mode: number): void {
    const what = `mkdirat ${name}`;
    checkFd(dirfd, what, this.constants);
    checkName(name, what);
    wrap(what, () => {
      this.addon.mkdirat(dirfd, name, mode);
    });
  }

  /** rename(2) between two directory fds; a link at either name is renamed or replaced, never followed. */
  renameat(olddirfd: number, oldname: string, newdirfd: number, newname: string): void {
    const what = `renameat ${oldname} → ${newname}`;
    checkFd(olddirfd, what, this.constants);
    checkFd(newdirfd, what, this.constants);
    checkName(oldname, what);
    checkName(newname, what);
    wrap(what, () => {
      this.addon.renameat(olddirfd, oldname, newdirfd, newname);
    });
  }

  /** unlink(2), or rmdir(2) with `{ dir: true }`. */
  unlinkat(dirfd: number, name: string, options: { dir?: boolean } = {}): void {
    const what = `unlinkat ${name}`;
    checkFd(dirfd, what, this.constants);
    checkName(name, what);
    wrap(what, () => {
      this.addon.unlinkat(dirfd, name, options.dir === true ? this.constants.AT_REMOVEDIR : 0);
    });
  }

  readlinkat(dirfd: number, name: string): string {
    const what = `readlinkat ${name}`;
    checkFd(dirfd, what, this.constants);
    checkName(name, what);
    return wrap(what, () => this.addon.readlinkat(dirfd, name));
  }

  /** lstat of `name` in `dirfd` (never follows); `name` undefined stats the fd itself. */
  lstatat(dirfd: number, name?: string): FsAtStat {
    const what = `fstatat ${name ?? '<fd>'}`;
    checkFd(dirfd, what, this.constants);
    if (name !== undefined) checkName(name, what);
    const flags = this.constants.AT_SYMLINK_NOFOLLOW | (name === undefined ? this.constants.AT_EMPTY_PATH : 0);
    const st = wrap(what, () => this.addon.fstatat(dirfd, name ?? '', flags));
    const type = st.mode & S_IFMT;
    return Object.freeze({
      ...st,
      isFile: () => type === 0o100000,
      isDirectory: () => type === 0o040000,
      isSymbolicLink: () => type === 0o120000,
    });
  }

  readdirat(dirfd: number): string[] {
    const what = 'readdirat';
    checkFd(dirfd, what, this.constants);
    return wrap(what, () => this.addon.readdirat(dirfd));
  }
}
