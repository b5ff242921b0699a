/* tls: placeholder until this area's functions land. */
#include "addon.h"

napi_value contrast_init_tls(napi_env env, napi_value exports) {
  (void)env;
  return exports;
}
