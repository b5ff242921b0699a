/* N-API helpers shared by the addon's areas (tee.c, sockets.c, tls.c, fsat.c). No area state here. */
#ifndef CONTRAST_NAPI_UTIL_H
#define CONTRAST_NAPI_UTIL_H

#include <stdint.h>
#include <node_api.h>

/* Throws a JS Error with `code` (e.g. "ENOTTY") and numeric `errno`; returns NULL for convenience. */
napi_value contrast_throw_errno(napi_env env, const char *syscall, int err);

/* Throws a JS Error with the given string `code` and message; returns NULL. */
napi_value contrast_throw_code(napi_env env, const char *code, const char *message);

/* Throws a JS TypeError with the given string `code` and message; returns NULL. */
napi_value contrast_throw_type(napi_env env, const char *code, const char *message);

/* Registers a function property on `exports`. Returns false after throwing. */
int contrast_export(napi_env env, napi_value exports, const char *name, napi_callback cb);

/* Reads a JS number as int32; returns false if it is not one. */
int contrast_get_int32(napi_env env, napi_value v, int32_t *out);

#endif
