/**
 * Everything the installer derives from its inputs before touching the host: manifest, target
 * config, handler name, artifact destinations, Kata config, containerd entry.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Logger } from '../lib/log.js';
import type { InstallerConfig } from './config.js';
import { HandlerMismatchError } from './errors.js';
import { ManifestError } from '../lib/node-install/errors.js';
import { hostPathOf, parseManifest, runtimeHandlerName, type InstallManifest } from '../lib/node-install/manifest.js';
import { handlerForPlatform, readEmbeddedHandler } from '../lib/node-install/embedded-handler.js';
import { defaultKataConfigPath, readTargetConfig, type TargetConfig } from './target-config.js';
import type { AssetSpec } from './assets.js';
import type { RuntimeEntry } from './containerd-edit.js';
import { errorCode, errorMessage } from '../lib/errors.js';
import { snapshotterSetup, type SnapshotterSetup } from '../lib/node-install/snapshotter.js';

export const MANIFEST_FILE = 'contrast-node-install.json';

export interface Inputs {
  readonly manifest: InstallManifest;
  readonly target: TargetConfig;
  readonly handler: string;
  readonly assets: readonly AssetSpec[];
  /** Absolute paths including HOST_MOUNT. */
  readonly containerdConfig: string;
  readonly kataConfig: string;
  readonly runtimeBase: string;
  readonly entry: RuntimeEntry;
  /** Seed generation: the proxy snapshotter the manifest asks for. */
  readonly snapshotter: SnapshotterSetup | undefined;
}

export async function readInputs(cfg: InstallerConfig, log: Logger): Promise<Inputs> {
  const manifestPath = join(cfg.configDir, MANIFEST_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(manifestPath);
  } catch (err) {
    const hint =
      errorCode(err) === 'ENOENT'
        ? ': this image carries no Kata artifacts and no install manifest; build the runtime-installer image on upstream\'s node-installer image, e.g. `npm run images -- --installer-base docker://ghcr.io/edgelesssys/contrast/node-installer-kata@sha256:<digest> runtime-installer` (docs/images.md, "The runtime-installer image on upstream\'s artifacts")'
        : '';
    throw new ManifestError(`reading install manifest ${manifestPath}: ${errorMessage(err)}${hint}`, { cause: err });
  }
  const manifest = parseManifest(bytes, manifestPath);
  const { config: target, found } = await readTargetConfig(cfg.targetConfigDir, cfg.platform);
  if (!found) log.info({ dir: cfg.targetConfigDir }, 'no target config directory, using platform defaults');
  const handler = await resolveHandler(cfg, manifest, manifestPath);
  const host = (p: string) => onHost(cfg.hostMount, p);
  const assets = manifest.files.map((f) => ({
    url: f.url,
    dest: host(hostPathOf(f, handler)),
    integrity: f.integrity,
    executable: f.executable,
  }));
  const kataRel = target.kataConfigPath ?? defaultKataConfigPath(cfg.platform, handler);
  const base = `/opt/edgeless/${handler}`;
  const snapshotter = manifest.snapshotter === undefined ? undefined : snapshotterSetup(manifest.snapshotter, handler);
  return {
    manifest,
    target,
    handler,
    assets,
    containerdConfig: host(target.containerdConfigPath),
    kataConfig: host(kataRel),
    runtimeBase: host(base),
    entry: {
      handler,
      runtimeType: 'io.containerd.contrast-cc.v2',
      runtimePath: `${base}/bin/containerd-shim-contrast-cc-v2`,
      podAnnotations: cfg.platform.gpu ? ['io.katacontainers.*', 'cdi.k8s.io/*'] : ['io.katacontainers.*'],
      privilegedWithoutHostDevices: true,
      // Unlike upstream, containerd points at wherever kata-config-path put the file.
      configPath: `/${kataRel}`,
      snapshotter: snapshotter?.pluginName,
    },
    snapshotter,
  };
}

/**
 * The handler: the value embedded at image build when the image carries one (its manifest digest must
 * match the manifest read now), otherwise derived from the manifest the same way. When the DaemonSet
 * names the handler it was generated for (CONTRAST_RUNTIME_HANDLER), it must be this one.
 */
async function resolveHandler(cfg: InstallerConfig, manifest: InstallManifest, manifestPath: string): Promise<string> {
  const embedded = await readEmbeddedHandler(cfg.embeddedHandlerPath);
  if (embedded !== undefined && embedded.manifestSha256 !== manifest.sha256) {
    throw new ManifestError(
      `${manifestPath}: sha256 ${manifest.sha256} differs from the manifest the image was built with (${embedded.manifestSha256}, ${cfg.embeddedHandlerPath}): expected the image's own install manifest`,
    );
  }
  const handler =
    embedded === undefined
      ? runtimeHandlerName(manifest, cfg.platform)
      : handlerForPlatform(embedded, cfg.platform.name);
  if (cfg.expectedHandler !== undefined && cfg.expectedHandler !== handler) {
    throw new HandlerMismatchError(
      `CONTRAST_RUNTIME_HANDLER=${cfg.expectedHandler}: this image installs runtime handler ${handler}; expected the runtime YAML generated from this image (npm run manifests -- --installer-image <layout>)`,
    );
  }
  return handler;
}

/** HOST_MOUNT + a host path; refuses paths that would leave HOST_MOUNT. */
export function onHost(hostMount: string, hostPath: string): string {
  const full = resolve(hostMount, `.${hostPath.startsWith('/') ? '' : '/'}${hostPath}`);
  const rel = relative(resolve(hostMount), full);
  if (rel.startsWith('..') || isAbsolute(rel))
    throw new ManifestError(`host path ${hostPath}: expected a path inside ${hostMount}`);
  return full;
}
