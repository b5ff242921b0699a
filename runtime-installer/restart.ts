/**
 * Restart logic: the first unit of the list that systemd knows is restarted, unless it became active
 * after the containerd config was last written (it already runs with the newest config).
 */
import { stat } from 'node:fs/promises';
import type { Logger } from '../lib/log.js';
import { RestartError } from './errors.js';
import type { ServiceManager } from './systemd.js';

export interface RestartPlan {
  readonly units: readonly string[];
  /** The containerd config file that was written (the `.tmpl` in template mode). */
  readonly configPath: string;
  /** Its mtime, when the caller already has it (read through the host's directory fds). */
  readonly configMtimeNs?: bigint;
  readonly timeoutMs: number;
}

export type RestartOutcome = { readonly action: 'restarted' | 'skipped'; readonly unit: string };

export async function restartIfNeeded(sm: ServiceManager, plan: RestartPlan, log: Logger): Promise<RestartOutcome> {
  let chosen;
  for (const name of plan.units) {
    chosen = await sm.unit(name);
    if (chosen !== undefined) break;
  }
  if (chosen === undefined) {
    throw new RestartError(`no systemd unit with a name in [${plan.units.join(', ')}] found`, { code: 'ERR_NO_UNIT' });
  }
  const mtimeUs = (plan.configMtimeNs ?? (await stat(plan.configPath, { bigint: true })).mtimeNs) / 1000n;
  if (chosen.activeState === 'active' && chosen.activeEnterTimestampUs > mtimeUs) {
    log.info(
      { unit: chosen.name, activeSinceUs: chosen.activeEnterTimestampUs.toString(), configMtimeUs: mtimeUs.toString() },
      'unit already runs with the newest config, not restarting',
    );
    return { action: 'skipped', unit: chosen.name };
  }
  log.info({ unit: chosen.name, activeState: chosen.activeState }, 'restarting unit');
  await sm.restart(chosen.name, plan.timeoutMs);
  log.info({ unit: chosen.name }, 'unit restarted');
  return { action: 'restarted', unit: chosen.name };
}
