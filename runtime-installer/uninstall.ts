/**
 * Uninstallation: our runtime entry leaves the containerd config (losslessly), our directory under
 * /opt/edgeless goes, and the unit is restarted when the config changed after it started.
 */
import { rm } from 'node:fs/promises';
import type { InstallerConfig } from './config.js';
import { readInputs } from './inputs.js';
import { applyContainerdConfig, planRemove } from './containerd-config.js';
import { restartIfNeeded, type RestartOutcome } from './restart.js';
import { withServiceManager, type InstallDeps } from './install.js';

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
  const plan = await planRemove(inputs.containerdConfig, handler);
  const written = plan === undefined ? false : (await applyContainerdConfig(plan)).written;
  log.info({ path: inputs.containerdConfig, written }, written ? 'runtime entry removed from the containerd config' : 'no runtime entry in the containerd config');
  await rm(inputs.kataConfig, { force: true });
  await rm(inputs.runtimeBase, { recursive: true, force: true });
  log.info({ path: inputs.runtimeBase }, 'runtime directory removed');
  let restart: RestartOutcome | undefined;
  if (inputs.target.restartUnit && plan !== undefined) {
    restart = await withServiceManager(cfg, deps, (sm) => restartIfNeeded(sm, { units: inputs.target.units, configPath: plan.target, timeoutMs: cfg.restartTimeoutMs }, log));
  }
  log.info({ handler }, 'Uninstallation completed successfully.');
  return { handler, containerdConfigWritten: written, restart };
}
