/**
 * Installation: read and validate everything, plan the containerd edit, stage artifacts (a failure
 * up to here leaves the host unchanged), then commit artifacts, write the Kata config, replace the
 * containerd config, and restart the unit when needed.
 */
import { readdir, readFile, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../lib/log.js';
import { ensureDir, writeFileAtomic } from '../lib/fs-atomic.js';
import type { InstallerConfig } from './config.js';
import { readInputs, onHost } from './inputs.js';
import { abortStaging, commitStaging, newStaging, stageAsset } from './assets.js';
import { applyContainerdConfig, changes, planAdd } from './containerd-config.js';
import { kataConfig, renderKataConfig } from './kata-config.js';
import { restartIfNeeded, type RestartOutcome } from './restart.js';
import type { ServiceManager } from './systemd.js';
import { NODE_LABEL_VALUE, nodeLabelKey, patchNodeLabel } from './node-label.js';

export const IMAGEPULLER_FILE = 'contrast-imagepuller.toml';

export interface InstallDeps {
  readonly log: Logger;
  /** Opens the service manager (systemd over D-Bus in production). */
  readonly serviceManager: (address: string) => Promise<ServiceManager>;
}

export interface InstallResult {
  readonly handler: string;
  readonly artifactsChanged: number;
  readonly containerdConfigWritten: boolean;
  readonly backup: string | undefined;
  readonly restart: RestartOutcome | undefined;
}

export async function install(cfg: InstallerConfig, deps: InstallDeps): Promise<InstallResult> {
  const { log } = deps;
  const inputs = await readInputs(cfg, log);
  const { handler } = inputs;
  log.info({ handler, platform: cfg.platform.name, files: inputs.assets.length }, 'runtime handler');

  const imagepuller = await readOptional(join(cfg.imagepullerConfigDir, IMAGEPULLER_FILE));
  const imagepullerHostPath = `/opt/edgeless/${handler}/etc/host-config/${IMAGEPULLER_FILE}`;
  const kataText = renderKataConfig(kataConfig(cfg.platform, {
    handler,
    debug: inputs.manifest.debugRuntime,
    kernelParams: inputs.manifest.qemuExtraKernelParams,
    imagepullerConfig: imagepuller === undefined ? '' : imagepullerHostPath,
  }));
  const plan = await planAdd(inputs.containerdConfig, inputs.entry, { debugLevel: inputs.manifest.debugRuntime }, inputs.snapshotter);
  if (inputs.snapshotter !== undefined) log.info({ snapshotter: inputs.snapshotter.pluginName, address: inputs.snapshotter.address }, 'proxy snapshotter');

  // Two artifacts at a time: one file's fsync (disk) overlaps with the next one's hashing (CPU).
  const staging = newStaging();
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < inputs.assets.length) {
      const order = next++;
      const spec = inputs.assets[order];
      if (spec === undefined) break;
      try {
        await removeStaleTemps(spec.dest);
        const staged = await stageAsset(spec, staging, { log, http: cfg.http }, order);
        log.info({ url: spec.url.href, dest: spec.dest, action: staged.temp === undefined ? 'unchanged' : 'fetched' }, 'artifact');
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all([worker(), worker()]);
  if (failure !== undefined) {
    await abortStaging(staging);
    throw failure.err;
  }
  const { changed } = await commitStaging(staging);
  log.info({ changed, total: inputs.assets.length }, 'artifacts in place');

  if (imagepuller !== undefined) {
    const dest = onHost(cfg.hostMount, imagepullerHostPath);
    await ensureDir(dirname(dest));
    await removeStaleTemps(dest);
    await writeFileAtomic(dest, imagepuller, { mode: 0o644 });
  }
  await ensureDir(dirname(inputs.kataConfig));
  await removeStaleTemps(inputs.kataConfig);
  const kataWritten = await writeFileAtomic(inputs.kataConfig, kataText, { mode: 0o644 });
  log.info({ path: inputs.kataConfig, written: kataWritten }, 'kata config');

  await removeStaleTemps(plan.target);
  const { written, backup } = await applyContainerdConfig(plan);
  if (backup !== undefined) log.info({ backup }, 'backed up the original containerd config');
  log.info({ path: plan.target, written, changed: changes(plan) }, written ? 'containerd config updated' : 'containerd config already up to date');

  let restart: RestartOutcome | undefined;
  if (!inputs.target.restartUnit) log.info('restart-systemd-unit is false, not restarting');
  else restart = await withServiceManager(cfg, deps, (sm) => restartIfNeeded(sm, { units: inputs.target.units, configPath: plan.target, timeoutMs: cfg.restartTimeoutMs }, log));
  // Last: only a node whose runtime is in place gets the label the RuntimeClass selects on.
  if (cfg.nodeLabel === undefined) log.info('NODE_NAME not set, not labelling the node');
  else await patchNodeLabel(cfg.nodeLabel, nodeLabelKey(handler), NODE_LABEL_VALUE, log);
  log.info({ handler }, 'Installation completed successfully.');
  return { handler, artifactsChanged: changed, containerdConfigWritten: written, backup, restart };
}

export async function withServiceManager<T>(cfg: InstallerConfig, deps: InstallDeps, fn: (sm: ServiceManager) => Promise<T>): Promise<T> {
  const sm = await deps.serviceManager(cfg.busAddress);
  try {
    return await fn(sm);
  } finally {
    sm.close();
  }
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Removes temporaries an interrupted earlier run left beside `path`: `.<name>.tmp-<hex>` (atomic
 * writes), `.<name>.contrast-tmp-<hex>` (staged artifacts) and `.<name>.<digits>.bak.tmp-<hex>`
 * (the backup of the containerd config).
 */
export async function removeStaleTemps(path: string): Promise<void> {
  const name = basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^\\.${name}\\.(?:\\d+\\.bak\\.)?(?:contrast-)?tmp-[0-9a-f]{12}$`);
  const entries = await readdir(dirname(path)).catch(() => [] as string[]);
  for (const e of entries) if (re.test(e)) await unlink(join(dirname(path), e)).catch(() => undefined);
}
