#!/bin/bash
# Builds the initializer's bundle that bench/initializer measures as "bundle": the same split ESM
# bundle the images carry (images/bundler.ts, `npm run bundle`):
#   npm run build && bash bench/initializer/bundle.sh [<outdir>]      (default dist/bundle)
#   node --import tsx bench/initializer/startup.ts --bundle <outdir>/initializer/main.mjs
# Code splitting keeps the lazily imported parts (commander, `report`, SNP/TDX document encoders with
# protobufjs) out of what the pod path compiles; @grpc/proto-loader stays external (grpc-js needs it
# only for channelz/ORCA, never on this path). The addon is copied beside main.mjs, where
# native/addon.ts looks first (or set CONTRAST_NATIVE_ADDON).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(realpath -m "${1:-$root/dist/bundle}")
cd "$root"
npm run --silent bundle -- --out "$out" initializer
ls -la "$out/initializer/main.mjs"
