/* The addon's areas, each registering its functions in its own file; addon.c calls these at load. */
#ifndef CONTRAST_ADDON_H
#define CONTRAST_ADDON_H

#include <node_api.h>

/* Each returns NULL after throwing on failure. */
napi_value contrast_init_tee(napi_env env, napi_value exports);
napi_value contrast_init_sockets(napi_env env, napi_value exports);
napi_value contrast_init_tls(napi_env env, napi_value exports);
napi_value contrast_init_fsat(napi_env env, napi_value exports);
napi_value contrast_init_relay(napi_env env, napi_value exports);

#endif
