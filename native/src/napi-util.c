/* N-API helpers shared by the addon's areas: exporting functions, throwing coded errors, reading args. */
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include "napi-util.h"

int contrast_export(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) != napi_ok) return 0;
  if (napi_set_named_property(env, exports, name, fn) != napi_ok) return 0;
  return 1;
}

static const char *errno_name(int err) {
  switch (err) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(EIO) E(EBADF) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST)
    E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENOTTY) E(ENOSPC) E(ENOSYS) E(ENOTSOCK) E(ENOPROTOOPT)
    E(EOPNOTSUPP) E(EADDRINUSE) E(EADDRNOTAVAIL) E(ENOTCONN) E(ECONNREFUSED) E(ECONNRESET) E(ETIMEDOUT)
    E(EAFNOSUPPORT) E(EMSGSIZE) E(E2BIG) E(ERANGE) E(EINTR) E(EPROTO) E(ENXIO)
    E(EXDEV) E(ELOOP) E(ENOTEMPTY) E(EROFS) E(ENAMETOOLONG) E(EMLINK)
#undef E
    default: return "EUNKNOWN";
  }
}

napi_value contrast_throw_errno(napi_env env, const char *syscall, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, message, error, num, sys;
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "syscall", sys);
  napi_throw(env, error);
  return NULL;
}

napi_value contrast_throw_code(napi_env env, const char *code, const char *message) {
  napi_value c, m, e;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &e);
  napi_throw(env, e);
  return NULL;
}

napi_value contrast_throw_type(napi_env env, const char *code, const char *message) {
  napi_throw_type_error(env, code, message);
  return NULL;
}

int contrast_get_int32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}
