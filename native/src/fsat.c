/*
 * fsat: path resolution confined to a directory (openat2 with RESOLVE_* flags) and the *at system
 * calls that act on one name relative to a directory fd. Together they let a caller work inside a
 * foreign root (the node's filesystem under HOST_MOUNT) the way a container runtime works inside a
 * rootfs: every component is resolved by the kernel relative to a directory fd, never by string
 * checks on a path.
 *
 * All calls are short metadata system calls and run on the calling thread. Errors are thrown with the
 * errno name as `code` (contrast_throw_errno); argument errors as TypeError.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "addon.h"
#include "napi-util.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define MAX_PATH_ARG 4096

static napi_value throw_type(napi_env env, const char *msg) {
  return contrast_throw_type(env, "ERR_INVALID_ARG_VALUE", msg);
}

static int get_fd(napi_env env, napi_value v, int *out) {
  int32_t n;
  if (napi_get_value_int32(env, v, &n) != napi_ok) return 0;
  if (n < 0 && n != AT_FDCWD) return 0;
  *out = n;
  return 1;
}

/* Copies a JS string into buf; refuses embedded NULs and overlong strings. */
static int get_path(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return 0;
  if (len == 0 || len >= size) return 0;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return 0;
  return strlen(buf) == len;
}

static napi_value make_int(napi_env env, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

static napi_value undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

/* openat2(dirfd, path, flags, mode, resolve): number (fd). ENOSYS on kernels before 5.6. */
static napi_value fs_openat2(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5) return throw_type(env, "openat2(dirfd, path, flags, mode, resolve)");
  int dirfd;
  int32_t flags, mode, resolve;
  char path[MAX_PATH_ARG];
  if (!get_fd(env, argv[0], &dirfd)) return throw_type(env, "dirfd must be a file descriptor");
  if (!get_path(env, argv[1], path, sizeof path)) return throw_type(env, "path must be a non-empty string without NUL");
  if (!contrast_get_int32(env, argv[2], &flags) || !contrast_get_int32(env, argv[3], &mode) || !contrast_get_int32(env, argv[4], &resolve) || mode < 0 || resolve < 0) return throw_type(env, "flags, mode and resolve must be integers");
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(uint32_t)flags | O_CLOEXEC;
  /* The kernel refuses a mode without O_CREAT / O_TMPFILE. */
  how.mode = (flags & (O_CREAT | __O_TMPFILE)) ? (uint64_t)mode : 0;
  how.resolve = (uint64_t)(uint32_t)resolve;
  long fd;
  do fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return contrast_throw_errno(env, "openat2", errno);
  return make_int(env, fd);
}

/* openat(dirfd, path, flags, mode): number (fd). */
static napi_value fs_openat(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) return throw_type(env, "openat(dirfd, path, flags, mode)");
  int dirfd;
  int32_t flags, mode;
  char path[MAX_PATH_ARG];
  if (!get_fd(env, argv[0], &dirfd)) return throw_type(env, "dirfd must be a file descriptor");
  if (!get_path(env, argv[1], path, sizeof path)) return throw_type(env, "path must be a non-empty string without NUL");
  if (!contrast_get_int32(env, argv[2], &flags) || !contrast_get_int32(env, argv[3], &mode) || mode < 0) return throw_type(env, "flags and mode must be integers");
  int fd;
  do fd = openat(dirfd, path, flags | O_CLOEXEC, (mode_t)mode);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return contrast_throw_errno(env, "openat", errno);
  return make_int(env, fd);
}

/* mkdirat(dirfd, name, mode): undefined */
static napi_value fs_mkdirat(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return throw_type(env, "mkdirat(dirfd, name, mode)");
  int dirfd;
  int32_t mode;
  char name[MAX_PATH_ARG];
  if (!get_fd(env, argv[0], &dirfd)) return throw_type(env, "dirfd must be a file descriptor");
  if (!get_path(env, argv[1], name, sizeof name)) return throw_type(env, "name must be a non-empty string without NUL");
  if (!contrast_get_int32(env, argv[2], &mode) || mode < 0) return throw_type(env, "mode must be a non-negative integer");
  if (mkdirat(dirfd, name, (mode_t)mode) != 0) return contrast_throw_errno(env, "mkdirat", errno);
  return undefined(env);
}

/* renameat(olddirfd, oldname, newdirfd, newname): undefined. Never follows a link at either name. */
static napi_value fs_renameat(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) return throw_type(env, "renameat(olddirfd, oldname, newdirfd, newname)");
  int olddir, newdir;
  char oldname[MAX_PATH_ARG], newname[MAX_PATH_ARG];
  if (!get_fd(env, argv[0], &olddir) || !get_fd(env, argv[2], &newdir)) return throw_type(env, "dirfd must be a file descriptor");
  if (!get_path(env, argv[1], oldname, sizeof oldname) || !get_path(env, argv[3], newname, sizeof newname)) return throw_type(env, "names must be non-empty strings without NUL");
  if (renameat(olddir, oldname, newdir, newname) != 0) return contrast_throw_errno(env, "renameat", errno);
  return undefined(env);
}

/* unlinkat(dirfd, name, flags): undefined. flags: 0 or AT_REMOVEDIR. */
static napi_value fs_unlinkat(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return throw_type(env, "unlinkat(dirfd, name, flags)");
  int dirfd;
  int32_t flags;
  char name[MAX_PATH_ARG];
  if (!get_fd(env, argv[0], &dirfd)) return throw_type(env, "dirfd must be a file descriptor");
  if (!get_path(env, argv[1], name, sizeof name)) return throw_type(env, "name must be a non-empty string without NUL");
  if (!contrast_get_int32(env, argv[2], &flags) || (flags != 0 && flags != AT_REMOVEDIR)) return throw_type(env, "flags must be 0 or AT_REMOVEDIR");
  if (unlinkat(dirfd, name, flags) != 0) return contrast_throw_errno(env, "unlinkat", errno);
  return undefined(env);
}

/* readlinkat(dirfd, name): string */
static napi_value fs_readlinkat(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) return throw_type(env, "readlinkat(dirfd, name)");
  int dirfd;
  char name[MAX_PATH_ARG];
  if (!get_fd(env, argv[0], &dirfd)) return throw_type(env, "dirfd must be a file descriptor");
  if (!get_path(env, argv[1], name, sizeof name)) return throw_type(env, "name must be a non-empty string without NUL");
  char target[PATH_MAX + 1];
  ssize_t n = readlinkat(dirfd, name, target, PATH_MAX);
  if (n < 0) return contrast_throw_errno(env, "readlinkat", errno);
  napi_value result;
  napi_create_string_utf8(env, target, (size_t)n, &result);
  return result;
}

/* fstatat(dirfd, name, flags): { mode, size, mtimeNs (bigint), dev, ino }. name "" needs AT_EMPTY_PATH. */
static napi_value fs_fstatat(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return throw_type(env, "fstatat(dirfd, name, flags)");
  int dirfd;
  int32_t flags;
  char name[MAX_PATH_ARG];
  if (!get_fd(env, argv[0], &dirfd)) return throw_type(env, "dirfd must be a file descriptor");
  if (!contrast_get_int32(env, argv[2], &flags)) return throw_type(env, "flags must be an integer");
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof name, &len) != napi_ok || len >= sizeof name - 1 || strlen(name) != len) return throw_type(env, "name must be a string without NUL");
  if (len == 0 && !(flags & AT_EMPTY_PATH)) return throw_type(env, "an empty name needs AT_EMPTY_PATH");
  struct stat st;
  if (fstatat(dirfd, name, &st, flags) != 0) return contrast_throw_errno(env, "fstatat", errno);
  napi_value obj, mtime;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "mode", make_int(env, st.st_mode));
  napi_set_named_property(env, obj, "size", make_int(env, st.st_size));
  napi_set_named_property(env, obj, "dev", make_int(env, (int64_t)st.st_dev));
  napi_set_named_property(env, obj, "ino", make_int(env, (int64_t)st.st_ino));
  napi_create_bigint_int64(env, (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, &mtime);
  napi_set_named_property(env, obj, "mtimeNs", mtime);
  return obj;
}

/* readdirat(dirfd): string[] (names without "." and ".."). The fd itself is left open and unmoved. */
static napi_value fs_readdirat(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) return throw_type(env, "readdirat(dirfd)");
  int dirfd;
  if (!get_fd(env, argv[0], &dirfd)) return throw_type(env, "dirfd must be a file descriptor");
  /* A fresh open description: works for O_PATH fds and keeps the caller's offset. */
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return contrast_throw_errno(env, "openat", errno);
  DIR *dir = fdopendir(fd);
  if (dir == NULL) {
    int err = errno;
    close(fd);
    return contrast_throw_errno(env, "fdopendir", err);
  }
  napi_value list;
  napi_create_array(env, &list);
  uint32_t i = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(dir);
    if (e == NULL) break;
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    napi_value s;
    napi_create_string_utf8(env, e->d_name, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, list, i++, s);
  }
  int err = errno;
  closedir(dir);
  if (err != 0) return contrast_throw_errno(env, "readdir", err);
  return list;
}

/* fsatConstants(): the flag values compiled into the addon. */
static napi_value fs_constants(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  napi_create_object(env, &obj);
#define C(x) napi_set_named_property(env, obj, #x, make_int(env, x));
  C(O_RDONLY) C(O_WRONLY) C(O_RDWR) C(O_CREAT) C(O_EXCL) C(O_TRUNC) C(O_NOFOLLOW) C(O_DIRECTORY) C(O_PATH)
  C(AT_FDCWD) C(AT_REMOVEDIR) C(AT_SYMLINK_NOFOLLOW) C(AT_EMPTY_PATH)
  C(RESOLVE_NO_XDEV) C(RESOLVE_NO_MAGICLINKS) C(RESOLVE_NO_SYMLINKS) C(RESOLVE_BENEATH) C(RESOLVE_IN_ROOT)
#undef C
  return obj;
}

napi_value contrast_init_fsat(napi_env env, napi_value exports) {
  if (!contrast_export(env, exports, "openat2", fs_openat2)) return NULL;
  if (!contrast_export(env, exports, "openat", fs_openat)) return NULL;
  if (!contrast_export(env, exports, "mkdirat", fs_mkdirat)) return NULL;
  if (!contrast_export(env, exports, "renameat", fs_renameat)) return NULL;
  if (!contrast_export(env, exports, "unlinkat", fs_unlinkat)) return NULL;
  if (!contrast_export(env, exports, "readlinkat", fs_readlinkat)) return NULL;
  if (!contrast_export(env, exports, "fstatat", fs_fstatat)) return NULL;
  if (!contrast_export(env, exports, "readdirat", fs_readdirat)) return NULL;
  if (!contrast_export(env, exports, "fsatConstants", fs_constants)) return NULL;
  return exports;
}
