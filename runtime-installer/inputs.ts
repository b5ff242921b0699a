/**
 * Everything the installer derives from its inputs before touching the host: manifest, target
 * config, handler name, artifact destinations, Kata config, containerd entry.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Logger } from '../lib/log.js';
import type { InstallerConfig } from './config.js';
import { ManifestError } from './errors.js';
import { hostPathOf, parseManifest, runtimeHandlerName, type InstallManifest } from './manifest.js';
import { defaultKataConfigPath, readTargetConfig, type TargetConfig } from './target-config.js';
import type { AssetSpec } from './assets.js';
import type { RuntimeEntry } from './containerd-edit.js';
import { errorMessage } from '../lib/errors.js';

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
}

export async function readInputs(cfg: InstallerConfig, log: Logger): Promise<Inputs> {
  const manifestPath = join(cfg.configDir, MANIFEST_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(manifestPath);
  } catch (err) {
    throw new ManifestError(`reading install manifest ${manifestPath}: ${errorMessage(err)}`, { cause: err });
  }
  const manifest = parseManifest(bytes, manifestPath);
  const { config: target, found } = await readTargetConfig(cfg.targetConfigDir, cfg.platform);
  if (!found) log.info({ dir: cfg.targetConfigDir }, 'no target config directory, using platform defaults');
  const handler = runtimeHandlerName(manifest, cfg.platform);
  const host = (p: string) => onHost(cfg.hostMount, p);
  const assets = manifest.files.map((f) => ({ url: f.url, dest: host(hostPathOf(f, handler)), integrity: f.integrity, executable: f.executable }));
  const kataRel = target.kataConfigPath ?? defaultKataConfigPath(cfg.platform, handler);
  const base = `/opt/edgeless/${handler}`;
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
    },
  };
}

/** HOST_MOUNT + a host path; refuses paths that would leave HOST_MOUNT. */
export function onHost(hostMount: string, hostPath: string): string {
  const full = resolve(hostMount, `.${hostPath.startsWith('/') ? '' : '/'}${hostPath}`);
  const rel = relative(resolve(hostMount), full);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new ManifestError(`host path ${hostPath}: expected a path inside ${hostMount}`);
  return full;
}
