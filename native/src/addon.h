/* Shared declarations of the contrast_native addon. Each area registers its functions in its own file. */
#ifndef CONTRAST_ADDON_H
#define CONTRAST_ADDON_H

#include <node_api.h>

/* Each returns NULL after throwing on failure. */
napi_value contrast_init_tee(napi_env env, napi_value exports);
napi_value contrast_init_sockets(napi_env env, napi_value exports);
napi_value contrast_init_tls(napi_env env, napi_value exports);
napi_value contrast_init_fsat(napi_env env, napi_value exports);

/* Throws a JS Error with `code` (e.g. "ENOTTY") and numeric `errno`; returns NULL for convenience. */
napi_value contrast_throw_errno(napi_env env, const char *syscall, int err);

/* Registers a function property on `exports`. Returns false after throwing. */
int contrast_export(napi_env env, napi_value exports, const char *name, napi_callback cb);

#endif
