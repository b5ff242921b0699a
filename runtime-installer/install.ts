/**
 * Installation: read and validate everything, plan the containerd edit, stage artifacts (a failure
 * up to here leaves the host unchanged), then commit artifacts, write the Kata config, replace the
 * containerd config, and restart the unit when needed.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../lib/log.js';
import { finalNameOfTemp } from '../lib/fs-atomic.js';
import type { InstallerConfig } from './config.js';
import { readInputs, onHost } from './inputs.js';
import { abortStaging, commitStaging, newStaging, stageAsset } from './assets.js';
import { applyContainerdConfig, changes, isBackupName, planAdd, plannedBackup } from './containerd-config.js';
import { HostRoot } from './host-root.js';
import { kataConfig, renderKataConfig } from './kata-config.js';
import {
  mergeReceipts,
  readReceipt,
  receiptPath,
  serializeReceipt,
  RECEIPT_DIR,
  type ContainerdRuntimeEdit,
} from './receipt.js';
import { restartIfNeeded, type RestartOutcome } from './restart.js';
import type { ServiceManager } from './systemd.js';
import { errorCode } from '../lib/errors.js';
import { patchNodeLabel } from './node-label.js';
import { NODE_LABEL_VALUE, nodeLabelKey } from '../lib/node-install/node-label.js';

export const IMAGEPULLER_FILE = 'contrast-imagepuller.toml';

export interface InstallDeps {
  readonly log: Logger;
  /** Opens the service manager (systemd over D-Bus in production). */
  readonly serviceManager: (address: string) => Promise<ServiceManager>;
  /** Opens HOST_MOUNT (default: HostRoot.open with openat2). */
  readonly hostRoot?: (mount: string) => HostRoot;
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
  const host = openHost(cfg, deps);
  try {
    return await installInto(host, cfg, deps, inputs);
  } finally {
    host.close();
  }
}

/** Opens HOST_MOUNT and says which resolver confines paths to it. */
export function openHost(cfg: InstallerConfig, deps: InstallDeps): HostRoot {
  return (deps.hostRoot ?? ((m: string) => HostRoot.open(m)))(cfg.hostMount);
}

async function installInto(
  host: HostRoot,
  cfg: InstallerConfig,
  deps: InstallDeps,
  inputs: Awaited<ReturnType<typeof readInputs>>,
): Promise<InstallResult> {
  const { log } = deps;
  const { handler } = inputs;
  const imagepuller = await readOptional(join(cfg.imagepullerConfigDir, IMAGEPULLER_FILE));
  const imagepullerHostPath = `/opt/edgeless/${handler}/etc/host-config/${IMAGEPULLER_FILE}`;
  const imagepullerDest = onHost(cfg.hostMount, imagepullerHostPath);
  const kataText = renderKataConfig(
    kataConfig(cfg.platform, {
      handler,
      debug: inputs.manifest.debugRuntime,
      kernelParams: inputs.manifest.qemuExtraKernelParams,
      imagepullerConfig: imagepuller === undefined ? '' : imagepullerHostPath,
    }),
  );
  const plan = await planAdd(
    host,
    inputs.containerdConfig,
    inputs.entry,
    { debugLevel: inputs.manifest.debugRuntime },
    inputs.snapshotter,
  );
  if (inputs.snapshotter !== undefined)
    log.info({ snapshotter: inputs.snapshotter.pluginName, address: inputs.snapshotter.address }, 'proxy snapshotter');
  const previous = await readReceipt(host, handler);
  if (host.resolver === 'walk')
    log.warn('openat2 is not available (ENOSYS): host paths are resolved by a userspace walk with O_NOFOLLOW');

  // The receipt goes down before anything it lists is created or placed, so that after a crash it
  // lists a superset of what is on the node and a re-run converges on the same receipt.
  const needed = new Set([
    ...inputs.assets.map((x) => dirname(x.dest)),
    dirname(inputs.kataConfig),
    host.onHost(RECEIPT_DIR),
  ]);
  if (imagepuller !== undefined) needed.add(dirname(imagepullerDest));
  const missing = [...new Set([...(await missingDirs(host, [...needed])), ...(await leftByKilledRun(host))])].sort(
    (a, b) => a.length - b.length,
  );
  const prevEdit = previous?.configEdits.find(
    (e) => e.kind === 'containerd-runtime' && e.path === host.hostPathOf(plan.target),
  ) as ContainerdRuntimeEdit | undefined;
  const backup = await plannedBackup(
    host,
    plan,
    Date.now(),
    prevEdit?.backup === undefined ? undefined : host.onHost(prevEdit.backup),
  );
  const edit: ContainerdRuntimeEdit = {
    kind: 'containerd-runtime',
    path: host.hostPathOf(plan.target),
    handler,
    templateCreated: plan.createdFrom !== undefined,
    ...(plan.createdFrom === undefined ? {} : { templateBaseSha256: sha256(plan.createdFrom) }),
    ...(backup === undefined ? {} : { backup: host.hostPathOf(backup) }),
    ...(inputs.snapshotter === undefined ? {} : { snapshotter: inputs.snapshotter.kind }),
  };
  const receipt = mergeReceipts(previous, {
    format: 1,
    handler,
    platform: cfg.platform.name,
    files: [
      ...inputs.assets.map((x) => x.dest),
      inputs.kataConfig,
      ...(imagepuller === undefined ? [] : [imagepullerDest]),
    ].map((p) => host.hostPathOf(p)),
    directories: missing.map((d) => host.hostPathOf(d)),
    configEdits: [edit],
  });
  const receiptFile = host.onHost(receiptPath(handler));
  const staging = newStaging();
  let receiptWritten = false;
  const undo = async () => {
    if (receiptWritten) {
      if (previous === undefined) await host.unlink(receiptFile);
      else await host.writeFileAtomic(receiptFile, serializeReceipt(previous), { mode: 0o644 });
    }
    await abortStaging(staging, host);
  };
  try {
    host.mkdirp(host.onHost(RECEIPT_DIR), 0o755, staging.createdDirs);
    await removeStaleTemps(host, receiptFile);
    receiptWritten = await host.writeFileAtomic(receiptFile, serializeReceipt(receipt), { mode: 0o644 });
    if (receiptWritten) log.info({ path: receiptFile }, 'install receipt written');
  } catch (err) {
    await undo();
    throw err;
  }

  // Two artifacts at a time: one file's fsync (disk) overlaps with the next one's hashing (CPU).
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < inputs.assets.length) {
      const order = next++;
      const spec = inputs.assets[order];
      if (spec === undefined) break;
      try {
        await removeStaleTemps(host, spec.dest);
        const staged = await stageAsset(spec, staging, { log, http: cfg.http, host }, order);
        log.info(
          { url: spec.url.href, dest: spec.dest, action: staged.temp === undefined ? 'unchanged' : 'fetched' },
          'artifact',
        );
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all([worker(), worker()]);
  try {
    if (failure !== undefined) throw failure.err;
    host.mkdirp(dirname(inputs.kataConfig), 0o755, staging.createdDirs);
    if (imagepuller !== undefined) host.mkdirp(dirname(imagepullerDest), 0o755, staging.createdDirs);
  } catch (err) {
    await undo();
    throw err;
  }
  const { changed } = await commitStaging(staging, host);
  log.info({ changed, total: inputs.assets.length }, 'artifacts in place');

  if (imagepuller !== undefined) {
    await removeStaleTemps(host, imagepullerDest);
    await host.writeFileAtomic(imagepullerDest, imagepuller, { mode: 0o644 });
  }
  await removeStaleTemps(host, inputs.kataConfig);
  const kataWritten = await host.writeFileAtomic(inputs.kataConfig, kataText, { mode: 0o644 });
  log.info({ path: inputs.kataConfig, written: kataWritten }, 'kata config');

  await removeStaleTemps(host, plan.target);
  const { written } = await applyContainerdConfig(host, plan, backup);
  if (written && backup !== undefined) log.info({ backup }, 'backed up the original containerd config');
  log.info(
    { path: plan.target, written, changed: changes(plan) },
    written ? 'containerd config updated' : 'containerd config already up to date',
  );

  let restart: RestartOutcome | undefined;
  if (!inputs.target.restartUnit) log.info('restart-systemd-unit is false, not restarting');
  else {
    const mtimeNs = host.statFollow(plan.target)?.mtimeNs ?? 0n;
    restart = await withServiceManager(cfg, deps, (sm) =>
      restartIfNeeded(
        sm,
        {
          units: inputs.target.units,
          configPath: plan.target,
          configMtimeNs: mtimeNs,
          timeoutMs: cfg.restartTimeoutMs,
        },
        log,
      ),
    );
  }
  // Last: only a node whose runtime is in place gets the label the RuntimeClass selects on.
  if (cfg.nodeLabel === undefined) log.info('NODE_NAME not set, not labelling the node');
  else await patchNodeLabel(cfg.nodeLabel, nodeLabelKey(handler), NODE_LABEL_VALUE, log);
  log.info({ handler }, 'Installation completed successfully.');
  return {
    handler,
    artifactsChanged: changed,
    containerdConfigWritten: written,
    backup: written ? backup : undefined,
    restart,
  };
}

/** The directories among `dirs` and their ancestors that do not exist yet, parents first. */
async function missingDirs(host: HostRoot, dirs: readonly string[]): Promise<string[]> {
  const missing = new Set<string>();
  for (const dir of dirs) {
    for (let d = dir; d !== host.mount && d.startsWith(host.mount); d = dirname(d)) {
      if (missing.has(d)) continue;
      if ((await host.lstat(d)) !== undefined) break;
      missing.add(d);
    }
  }
  return [...missing].sort((a, b) => a.length - b.length);
}

/**
 * The receipt directory and the ancestors a run of ours created and then could not record: a run killed
 * after creating `RECEIPT_DIR` and before its first receipt was in place. Nothing else creates
 * `RECEIPT_DIR`, so when it holds no receipt (only temporaries), it counts as created by install, and so
 * does each ancestor that holds nothing but the directory below it; uninstall then removes them as it
 * would after an uninterrupted run.
 */
async function leftByKilledRun(host: HostRoot): Promise<string[]> {
  const ours = (dir: string) => host.readdir(dir).then((es) => es.filter((e) => finalNameOfTemp(e) === undefined));
  const receiptDir = host.onHost(RECEIPT_DIR);
  if ((await host.lstat(receiptDir)) === undefined || (await ours(receiptDir)).length > 0) return [];
  const claimed = [receiptDir];
  for (
    let child = receiptDir, d = dirname(child);
    d !== host.mount && d.startsWith(host.mount);
    child = d, d = dirname(d)
  ) {
    const entries = await ours(d);
    if (entries.length !== 1 || entries[0] !== basename(child)) break;
    claimed.push(d);
  }
  return claimed;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export async function withServiceManager<T>(
  cfg: InstallerConfig,
  deps: InstallDeps,
  fn: (sm: ServiceManager) => Promise<T>,
): Promise<T> {
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
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Removes what an interrupted earlier run left beside `path` under a temporary name (lib/fs-atomic's
 * one scheme, whatever the entry is): of the file itself (atomic writes, staged artifacts) and of its
 * backups `<name>.<digits>.bak` (the containerd config's). Through the HostRoot: links are removed,
 * never followed.
 */
export async function removeStaleTemps(host: HostRoot, path: string): Promise<void> {
  const name = basename(path);
  const entries = await host.readdir(dirname(path)).catch(() => [] as string[]);
  for (const e of entries) {
    const finalName = finalNameOfTemp(e);
    if (finalName === undefined || (finalName !== name && !isBackupName(finalName, name))) continue;
    await host.removeTree(join(dirname(path), e)).catch(() => undefined);
  }
}
