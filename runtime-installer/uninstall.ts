/**
 * Uninstallation: our runtime entry leaves the containerd config (losslessly), our directory under
 * /opt/edgeless goes, and the unit is restarted when the config changed after it started.
 */
import { readFile, rm } from 'node:fs/promises';
import type { InstallerConfig } from './config.js';
import { readInputs } from './inputs.js';
import { applyContainerdConfig, planRemove } from './containerd-config.js';
import { restartIfNeeded, type RestartOutcome } from './restart.js';
import { withServiceManager, type InstallDeps } from './install.js';
import { onHost } from './inputs.js';
import { nodeLabelKey, patchNodeLabel } from './node-label.js';

export interface UninstallResult {
  readonly handler: string;
  readonly containerdConfigWritten: boolean;
  readonly restart: RestartOutcome | undefined;
}

export async function uninstall(cfg: InstallerConfig, deps: InstallDeps): Promise<UninstallResult> {
  const { log } = deps;
  const inputs = await readInputs(cfg, log);
  const { handler } = inputs;
  log.info({ handler, platform: cfg.platform.name }, 'uninstalling runtime handler');
  // First: no new pods are scheduled here once the label is gone.
  if (cfg.nodeLabel !== undefined) await patchNodeLabel(cfg.nodeLabel, nodeLabelKey(handler), null, log);
  const plan = await planRemove(inputs.containerdConfig, handler, inputs.snapshotter);
  const written = plan === undefined ? false : (await applyContainerdConfig(plan)).written;
  log.info({ path: inputs.containerdConfig, written }, written ? 'runtime entry removed from the containerd config' : 'no runtime entry in the containerd config');
  await rm(inputs.kataConfig, { force: true });
  await rm(inputs.runtimeBase, { recursive: true, force: true });
  log.info({ path: inputs.runtimeBase }, 'runtime directory removed');
  if (inputs.snapshotter !== undefined) {
    const state = onHost(cfg.hostMount, inputs.snapshotter.stateDir);
    const mounted = await mountsUnder(state);
    if (mounted.length > 0) log.warn({ path: state, mounts: mounted.slice(0, 5) }, 'snapshotter state still has mounts (is the sidecar running?), left in place');
    else {
      await rm(state, { recursive: true, force: true });
      log.info({ path: state }, 'snapshotter state removed');
    }
  }
  let restart: RestartOutcome | undefined;
  if (inputs.target.restartUnit && plan !== undefined) {
    restart = await withServiceManager(cfg, deps, (sm) => restartIfNeeded(sm, { units: inputs.target.units, configPath: plan.target, timeoutMs: cfg.restartTimeoutMs }, log));
  }
  log.info({ handler }, 'Uninstallation completed successfully.');
  return { handler, containerdConfigWritten: written, restart };
}

/** Mount points at or below `dir` (from /proc/self/mountinfo; octal escapes decoded). */
async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = text.split('\n').map((l) => l.split(' ')[4]).filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  return points.filter((p) => p === dir || p.startsWith(`${dir}/`));
}
