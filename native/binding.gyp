{
  "targets": [
    {
      "target_name": "contrast_native",
      "sources": ["src/addon.c", "src/napi-util.c", "src/tee.c", "src/sockets.c", "src/tls.c", "src/fsat.c", "src/relay.c"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
