/* Module entry point: registers each area's functions. Shared helpers live in napi-util.c. */
#include "addon.h"

static napi_value init(napi_env env, napi_value exports) {
  if (contrast_init_tee(env, exports) == NULL) return NULL;
  if (contrast_init_sockets(env, exports) == NULL) return NULL;
  if (contrast_init_tls(env, exports) == NULL) return NULL;
  if (contrast_init_fsat(env, exports) == NULL) return NULL;
  if (contrast_init_relay(env, exports) == NULL) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
