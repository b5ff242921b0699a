#!/bin/bash
# Builds a V8 start-up snapshot of the initializer (Node 20: user-land code must be one CommonJS file
# that requires only built-in modules, and no native addon may be loaded while building).
#   npm run build && bash bench/initializer/snapshot.sh <outdir>
# Then: node --snapshot-blob <outdir>/initializer.blob   (no script argument; sub-commands as usual:
#       node --snapshot-blob <outdir>/initializer.blob report)
# <outdir> also receives the bundle the blob was built from, package.json (for --version) and the addon:
# the snapshot resolves them beside the bundle's build-time path, or the addon via CONTRAST_NATIVE_ADDON.
# grpc-js stays outside the evaluated snapshot state: node:tls (which grpc-js and node:http2 load at
# module scope) cannot be snapshotted in Node 20 (V8 handle check fails), so the MeshAPI client is
# bundled but evaluated on first use.
set -euo pipefail
out=${1:?usage: snapshot.sh <outdir>}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
"$root/node_modules/.bin/esbuild" "$root/dist/initializer/snapshot-entry.js" --bundle --platform=node --format=cjs \
  --outfile="$out/initializer-snapshot.cjs" --define:import.meta.url=__snapshot_url \
  "--banner:js=var __snapshot_url = require('node:url').pathToFileURL(__filename).href;" --log-level=warning
cp "$root/package.json" "$out/package.json"
cp "$root/native/build/Release/contrast_native.node" "$out/"
(cd "$out" && node --snapshot-blob initializer.blob --build-snapshot initializer-snapshot.cjs 2> >(grep -v 'snapshot builder scripts\|certain run-time states\|request support for the module\|--trace-warnings' >&2))
ls -la "$out/initializer.blob"
