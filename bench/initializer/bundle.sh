#!/bin/bash
# Builds the split ESM bundle of the initializer that bench/initializer measures as "bundle":
#   npm run build && bash bench/initializer/bundle.sh <outdir>
#   node --import tsx bench/initializer/startup.ts --bundle <outdir>/main.mjs
# --splitting keeps the lazily imported parts (commander, `report`, SNP/TDX document encoders with
# protobufjs) out of what the pod path compiles; @grpc/proto-loader is only required by grpc-js's
# channelz admin service, never on this path. The addon is copied beside main.mjs, where
# native/addon.ts looks first (or set CONTRAST_NATIVE_ADDON).
set -euo pipefail
out=${1:?usage: bundle.sh <outdir>}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
"$root/node_modules/.bin/esbuild" "$root/dist/initializer/main.js" --bundle --splitting --platform=node --format=esm \
  --outdir="$out" --out-extension:.js=.mjs --external:@grpc/proto-loader --log-level=warning \
  "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
cp "$root/native/build/Release/contrast_native.node" "$out/"
ls -la "$out/main.mjs"
