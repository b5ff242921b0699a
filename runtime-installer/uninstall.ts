/**
 * Uninstallation, driven by the install receipt: every config edit it lists is undone (our runtime
 * table leaves containerd's config losslessly; a template install created is deleted when nothing
 * else is in it), then every file it lists is deleted, its backup, the directories install created,
 * the receipt itself and an empty /opt/edgeless. The unit is restarted when a config changed.
 *
 * Which handler: `--handler`, else the manifest's `runtimeHandlerName`, else the receipt of the
 * handler the manifest names, else the one receipt of this platform. Without a receipt, what is found
 * of the manifest's handler (its runtime entry, /opt/edgeless/<handler>) is removed with a warning;
 * with nothing found, NotInstalledError.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { InstallerConfig } from './config.js';
import { readInputs, type Inputs } from './inputs.js';
import { applyContainerdConfig, changes, planRemove, type ContainerdConfigPlan } from './containerd-config.js';
import { NotInstalledError, ReceiptError } from './errors.js';
import type { HostRoot } from './host-root.js';
import { openHost, removeStaleTemps, sha256, withServiceManager, type InstallDeps } from './install.js';
import {
  EDGELESS_DIR,
  listReceipts,
  readReceipt,
  receiptPath,
  RECEIPT_DIR,
  type ConfigEdit,
  type ContainerdRuntimeEdit,
  type Receipt,
} from './receipt.js';
import { restartIfNeeded, type RestartOutcome } from './restart.js';
import { patchNodeLabel } from './node-label.js';
import { nodeLabelKey } from '../lib/node-install/node-label.js';
import { SNAPSHOTTERS } from '../lib/node-install/manifest.js';
import { snapshotterSetup, type SnapshotterSetup } from '../lib/node-install/snapshotter.js';

export interface UninstallResult {
  readonly handler: string;
  readonly containerdConfigWritten: boolean;
  readonly restart: RestartOutcome | undefined;
}

export interface UninstallOptions {
  /** The handler to remove (overrides the manifest). */
  readonly handler?: string;
}

/** A planned undo of one config edit: what to write (or delete) and whether the unit must restart. */
interface PlannedUndo {
  readonly edit: ConfigEdit;
  readonly apply: () => Promise<boolean>;
  /** The file whose mtime decides the restart (when apply wrote). */
  readonly restartFile: string | undefined;
  /** The proxy snapshotter install wired in with this edit, whose state goes after the files. */
  readonly snapshotter?: SnapshotterSetup;
}

type UndoPlanner = (host: HostRoot, edit: ConfigEdit) => Promise<PlannedUndo>;

/** Undo planners by edit kind. A receipt naming another kind is refused before anything changes. */
export const UNDO: Readonly<Record<string, UndoPlanner>> = Object.freeze({
  'containerd-runtime': planContainerdRuntimeUndo,
});

async function planContainerdRuntimeUndo(host: HostRoot, raw: ConfigEdit): Promise<PlannedUndo> {
  const edit = raw as ContainerdRuntimeEdit;
  if (typeof edit.handler !== 'string')
    throw new ReceiptError(`install receipt: containerd-runtime edit of ${edit.path}: expected a handler`);
  if (edit.snapshotter !== undefined && !(SNAPSHOTTERS as readonly unknown[]).includes(edit.snapshotter)) {
    throw new ReceiptError(
      `install receipt: containerd-runtime edit of ${edit.path}: snapshotter=${edit.snapshotter}: expected one of ${SNAPSHOTTERS.join(', ')}`,
    );
  }
  const target = host.onHost(edit.path);
  const snapshotter = edit.snapshotter === undefined ? undefined : snapshotterSetup(edit.snapshotter, edit.handler);
  const plan = await planRemove(host, target, edit.handler, snapshotter);
  if (plan === undefined || plan.current === undefined)
    return {
      edit,
      apply: () => Promise.resolve(false),
      restartFile: undefined,
      ...(snapshotter === undefined ? {} : { snapshotter }),
    };
  // A template install created goes when, without our entry, it is what install created it from.
  const deleteTemplate = edit.templateCreated && edit.templateBaseSha256 === sha256(plan.next);
  return {
    edit,
    restartFile: target,
    ...(snapshotter === undefined ? {} : { snapshotter }),
    apply: async () => {
      if (deleteTemplate) {
        await host.unlink(target);
        return true;
      }
      return (await applyContainerdConfig(host, plan, undefined)).written;
    },
  };
}

export async function uninstall(
  cfg: InstallerConfig,
  deps: InstallDeps,
  options: UninstallOptions = {},
): Promise<UninstallResult> {
  const { log } = deps;
  const inputs = await readInputs(cfg, log);
  const host = openHost(cfg, deps);
  try {
    const receipt = await chooseReceipt(host, cfg, inputs, options);
    if (receipt === undefined) return await legacyUninstall(host, cfg, deps, inputs, options.handler ?? inputs.handler);
    const { handler } = receipt;
    log.info(
      { handler, platform: cfg.platform.name, receipt: host.onHost(receiptPath(handler)) },
      'uninstalling runtime handler',
    );
    // First: no new pods are scheduled here once the label is gone.
    if (cfg.nodeLabel !== undefined) await patchNodeLabel(cfg.nodeLabel, nodeLabelKey(handler), null, log);

    // Plan every undo first: an unknown kind, an unreadable config or a listed path whose directory
    // leads out of HOST_MOUNT changes nothing.
    const backups = receipt.configEdits
      .map((e) => (e as ContainerdRuntimeEdit).backup)
      .filter((b): b is string => typeof b === 'string');
    for (const p of [...receipt.files, ...backups, ...receipt.directories]) await host.lstat(host.onHost(p));
    const undos: PlannedUndo[] = [];
    for (const edit of receipt.configEdits) {
      const planner = UNDO[edit.kind];
      if (planner === undefined)
        throw new ReceiptError(
          `install receipt ${host.onHost(receiptPath(handler))}: config edit of kind ${edit.kind} (${edit.path}): expected one of ${Object.keys(UNDO).join(', ')}`,
        );
      undos.push(await planner(host, edit));
    }
    let restartFile: string | undefined;
    for (const u of undos) {
      const wrote = await u.apply();
      if (wrote) restartFile ??= u.restartFile;
      log.info(
        { kind: u.edit.kind, path: host.onHost(u.edit.path), written: wrote },
        wrote ? 'config edit undone' : 'config edit already undone',
      );
    }
    let removed = 0;
    for (const f of [...receipt.files, ...backups]) {
      const path = host.onHost(f);
      await removeStaleTemps(host, path);
      if (await host.unlink(path)) removed++;
    }
    log.info({ files: removed, listed: receipt.files.length + backups.length }, 'files removed');
    for (const u of undos) if (u.snapshotter !== undefined) await removeSnapshotterState(host, u.snapshotter, log);
    // The receipt goes last but one: a crash before this point leaves it for the re-run. Then the
    // directories install created (the receipt's own among them), deepest first, when empty.
    await host.unlink(host.onHost(receiptPath(handler)));
    await removeDirs(host, [
      ...receipt.directories,
      ...receipt.files.flatMap((f) => parentsUnder(f, EDGELESS_DIR)),
      RECEIPT_DIR,
      EDGELESS_DIR,
    ]);
    log.info({ path: host.onHost(`${EDGELESS_DIR}/${handler}`) }, 'runtime directory removed');
    const restart = await restartAfter(host, cfg, deps, inputs, restartFile);
    log.info({ handler }, 'Uninstallation completed successfully.');
    return { handler, containerdConfigWritten: restartFile !== undefined, restart };
  } finally {
    host.close();
  }
}

async function chooseReceipt(
  host: HostRoot,
  cfg: InstallerConfig,
  inputs: Inputs,
  options: UninstallOptions,
): Promise<Receipt | undefined> {
  const explicit = options.handler ?? inputs.manifest.runtimeHandlerName;
  if (explicit !== undefined) return readReceipt(host, explicit);
  const own = await readReceipt(host, inputs.handler);
  if (own !== undefined) return own;
  const ofPlatform = (await listReceipts(host)).filter(
    (r) => r.platform.toLowerCase() === cfg.platform.name.toLowerCase(),
  );
  if (ofPlatform.length > 1) {
    throw new NotInstalledError(
      `several runtimes of platform ${cfg.platform.name} are installed (${ofPlatform.map((r) => r.handler).join(', ')}) and the manifest names none of them: expected --handler <name>`,
    );
  }
  return ofPlatform[0];
}

/** Nodes installed before receipts existed: remove what is found of the handler, or say there is nothing. */
async function legacyUninstall(
  host: HostRoot,
  cfg: InstallerConfig,
  deps: InstallDeps,
  inputs: Inputs,
  handler: string,
): Promise<UninstallResult> {
  const { log } = deps;
  const base = host.onHost(`${EDGELESS_DIR}/${handler}`);
  const snapshotter = inputs.snapshotter === undefined ? undefined : snapshotterSetup(inputs.snapshotter.kind, handler);
  const plan: ContainerdConfigPlan | undefined = await planRemove(host, inputs.containerdConfig, handler, snapshotter);
  const hasDir = (await host.lstat(base)) !== undefined;
  if ((plan === undefined || !changes(plan)) && !hasDir) {
    throw new NotInstalledError(
      `nothing to uninstall: no install receipt in ${host.onHost(RECEIPT_DIR)}, no runtime entry ${handler} in ${plan?.target ?? inputs.containerdConfig}, no ${base}`,
    );
  }
  log.warn({ handler }, `no install receipt for ${handler}: removing its runtime entry and ${base} as found`);
  if (cfg.nodeLabel !== undefined) await patchNodeLabel(cfg.nodeLabel, nodeLabelKey(handler), null, log);
  const written =
    plan !== undefined && changes(plan) ? (await applyContainerdConfig(host, plan, undefined)).written : false;
  log.info(
    { path: inputs.containerdConfig, written },
    written ? 'runtime entry removed from the containerd config' : 'no runtime entry in the containerd config',
  );
  if (inputs.kataConfig.startsWith(`${base}/`) || inputs.handler === handler) await host.unlink(inputs.kataConfig);
  await host.removeTree(base);
  await host.rmdir(host.onHost(EDGELESS_DIR));
  log.info({ path: base }, 'runtime directory removed');
  if (snapshotter !== undefined) await removeSnapshotterState(host, snapshotter, log);
  const restart = await restartAfter(host, cfg, deps, inputs, written && plan !== undefined ? plan.target : undefined);
  log.info({ handler }, 'Uninstallation completed successfully.');
  return { handler, containerdConfigWritten: written, restart };
}

async function restartAfter(
  host: HostRoot,
  cfg: InstallerConfig,
  deps: InstallDeps,
  inputs: Inputs,
  configFile: string | undefined,
): Promise<RestartOutcome | undefined> {
  if (!inputs.target.restartUnit || configFile === undefined) return undefined;
  // A deleted template: the restart is due in any case (mtime 0 is older than any start).
  const mtimeNs = host.statFollow(configFile)?.mtimeNs ?? 0n;
  return withServiceManager(cfg, deps, (sm) =>
    restartIfNeeded(
      sm,
      { units: inputs.target.units, configPath: configFile, configMtimeNs: mtimeNs, timeoutMs: cfg.restartTimeoutMs },
      deps.log,
    ),
  );
}

/** Host directories between `file` and `top` (exclusive of `top`), when `file` is below `top`. */
function parentsUnder(file: string, top: string): string[] {
  const out: string[] = [];
  if (!file.startsWith(`${top}/`)) return out;
  for (let d = dirname(file); d.startsWith(`${top}/`); d = dirname(d)) out.push(d);
  return out;
}

/** rmdir of each directory that is empty, deepest first. */
async function removeDirs(host: HostRoot, dirs: readonly string[]): Promise<void> {
  const unique = [...new Set(dirs)].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
  for (const d of unique) await host.rmdir(host.onHost(d));
}

/** The snapshotter's state, unless the sidecar still has something mounted there (then it is left). */
async function removeSnapshotterState(host: HostRoot, setup: SnapshotterSetup, log: InstallDeps['log']): Promise<void> {
  const state = host.onHost(setup.stateDir);
  const mounted = await mountsUnder(state);
  if (mounted.length > 0) {
    log.warn(
      { path: state, mounts: mounted.slice(0, 5) },
      'snapshotter state still has mounts (is the sidecar running?), left in place',
    );
    return;
  }
  await host.removeTree(state);
  log.info({ path: state }, 'snapshotter state removed');
}

/** Mount points at or below `dir` (from /proc/self/mountinfo; octal escapes decoded). */
async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  return points.filter((p) => p === dir || p.startsWith(`${dir}/`));
}
