#!/bin/bash
# Builds the initializer's bundle that bench/initializer measures as "bundle": the same code-cached
# bundle the image carries (images/bundler.ts, `npm run bundle`):
#   npm run build && bash bench/initializer/bundle.sh [<outdir>]      (default dist/bundle)
#   npx node --import tsx bench/initializer/startup.ts --bundle <outdir>/initializer/main.cjs
# main.cjs is the loader; program.cjs the whole program in one CommonJS file; program.cache the V8
# code cache from the bundler's training run of the pod path (valid for the pinned node binary only).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(realpath -m "${1:-$root/dist/bundle}")
cd "$root"
npm run --silent bundle -- --out "$out" initializer
ls -la "$out/initializer/main.cjs" "$out/initializer/program.cjs" "$out/initializer/program.cache"
