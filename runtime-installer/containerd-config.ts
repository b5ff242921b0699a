/**
 * Reading and writing the host's containerd configuration: template mode (k3s/RKE2 `.tmpl`), one
 * backup of the original before our first change, atomic replace, no write when nothing changes.
 * Every access goes through the HostRoot (directory fds confined to HOST_MOUNT). A config above
 * MAX_CONTAINERD_CONFIG_BYTES is refused before it is read.
 */
import { basename, dirname, join } from 'node:path';
import { ContainerdConfigError } from './errors.js';
import type { HostRoot } from './host-root.js';
import { addRuntime, editTemplate, removeRuntime, type EditOptions, type RuntimeEntry } from './containerd-edit.js';
import { errorCode, errorMessage } from '../lib/errors.js';
import { addSnapshotterConfig, removeSnapshotterConfig } from './snapshotter.js';
import { type SnapshotterSetup } from '../lib/node-install/snapshotter.js';

/** The largest containerd config (or template) the installer reads: 1 MiB (real ones have a few KiB). */
export const MAX_CONTAINERD_CONFIG_BYTES = 1024 * 1024;

export interface ContainerdConfigPlan {
  /** Absolute path that is written (the `.tmpl` in template mode). */
  readonly target: string;
  /** Bytes at `target` now (undefined when it does not exist yet). */
  readonly current: string | undefined;
  /** Bytes to write; equal to `current` when up to date. */
  readonly next: string;
  readonly mode: number;
  readonly templateMode: boolean;
  /** Template mode: the template does not exist yet and is created from this (rendered) text. */
  readonly createdFrom: string | undefined;
}

/**
 * Computes the change without touching the host. In template mode the template is edited when it
 * exists (Go directive lines kept, see editTemplate), otherwise the rendered config is the starting
 * point. A missing or invalid config is an error.
 */
export async function planContainerdConfig(
  host: HostRoot,
  path: string,
  edit: (text: string, source: string) => string,
  templated: (text: string, source: string, criId: string) => string,
): Promise<ContainerdConfigPlan> {
  const templateMode = path.endsWith('.tmpl');
  const found = await readOptional(host, path);
  const current = found?.text;
  let base = current;
  let baseMode = found?.mode;
  let source = path;
  let createdFrom: string | undefined;
  if (templateMode && current === undefined) {
    const rendered = path.slice(0, -'.tmpl'.length);
    const r = await readOptional(host, rendered);
    if (r === undefined)
      throw new ContainerdConfigError(
        `containerd config ${rendered} (rendered config of template ${path}) does not exist: expected the file the container runtime was started with`,
      );
    base = r.text;
    baseMode = r.mode;
    source = rendered;
    createdFrom = r.text;
  }
  if (base === undefined)
    throw new ContainerdConfigError(
      `containerd config ${path} does not exist: expected an existing containerd config file`,
    );
  if (templateMode && current !== undefined && current.includes('{{')) {
    const renderedPath = path.slice(0, -'.tmpl'.length);
    const rendered = (await readOptional(host, renderedPath))?.text;
    if (rendered === undefined)
      throw new ContainerdConfigError(
        `containerd config ${renderedPath} (rendered config of template ${path}) does not exist: expected the file the container runtime was started with`,
      );
    return {
      target: path,
      current,
      next: editTemplate(current, rendered, path, renderedPath, templated),
      mode: baseMode ?? 0o644,
      templateMode,
      createdFrom,
    };
  }
  return { target: path, current, next: edit(base, source), mode: baseMode ?? 0o644, templateMode, createdFrom };
}

/**
 * Our runtime entry, then (seed generation) the snapshotter's proxy plugin as a separate step.
 */
export function planAdd(
  host: HostRoot,
  path: string,
  entry: RuntimeEntry,
  options: EditOptions,
  snapshotter?: SnapshotterSetup,
): Promise<ContainerdConfigPlan> {
  const withSnapshotter = (text: string, source: string, criId?: string) =>
    snapshotter === undefined ? text : addSnapshotterConfig(text, snapshotter, source, criId);
  return planContainerdConfig(
    host,
    path,
    (text, source) => withSnapshotter(addRuntime(text, entry, source, options), source),
    // In a template with directives the base config may define [debug]; it is left alone.
    (text, source, criId) => withSnapshotter(addRuntime(text, entry, source, { criId }), source, criId),
  );
}

export async function planRemove(
  host: HostRoot,
  path: string,
  handler: string,
  snapshotter?: SnapshotterSetup,
): Promise<ContainerdConfigPlan | undefined> {
  const templateMode = path.endsWith('.tmpl');
  if (templateMode && (await readOptional(host, path)) === undefined) return undefined;
  const withoutSnapshotter = (text: string, source: string) =>
    snapshotter === undefined ? text : removeSnapshotterConfig(text, snapshotter, source);
  return planContainerdConfig(
    host,
    path,
    (text, source) => withoutSnapshotter(removeRuntime(text, handler, source), source),
    (text, source, criId) => withoutSnapshotter(removeRuntime(text, handler, source, criId), source),
  );
}

/** Whether the plan changes anything. */
export function changes(plan: ContainerdConfigPlan): boolean {
  return plan.current !== plan.next;
}

/**
 * The backup `applyContainerdConfig` will write: `<path>.<unix>.bak` of the original before our first
 * change, only when no backup exists yet. Decided up front so that the install receipt can name it;
 * `preferred` is the name an earlier, interrupted run recorded.
 */
export async function plannedBackup(
  host: HostRoot,
  plan: ContainerdConfigPlan,
  now = Date.now(),
  preferred?: string,
): Promise<string | undefined> {
  if (!changes(plan) || plan.current === undefined || plan.current === '') return undefined;
  if ((await existingBackups(host, plan.target)).length > 0) return undefined;
  // The name an interrupted earlier run already put into the receipt.
  return preferred ?? `${plan.target}.${Math.floor(now / 1000)}.bak`;
}

/** Applies the plan: the backup (when planned), then atomic replace. */
export async function applyContainerdConfig(
  host: HostRoot,
  plan: ContainerdConfigPlan,
  backup: string | undefined,
): Promise<{ written: boolean; backup: string | undefined }> {
  if (!changes(plan)) return { written: false, backup: undefined };
  if (backup !== undefined && plan.current !== undefined)
    await host.writeFileAtomic(backup, plan.current, { mode: plan.mode });
  await host.writeFileAtomic(plan.target, plan.next, { mode: plan.mode });
  return { written: true, backup };
}

/** Whether `entry` is a backup `<name>.<digits>.bak` of the config named `name`. */
export function isBackupName(entry: string, name: string): boolean {
  return entry.startsWith(`${name}.`) && /^\d+\.bak$/.test(entry.slice(name.length + 1));
}

/** Backups `<name>.<digits>.bak` beside the config, oldest first. */
export async function existingBackups(host: HostRoot, path: string): Promise<string[]> {
  const name = basename(path);
  const entries = await host.readdir(dirname(path));
  return entries
    .filter((e) => isBackupName(e, name))
    .sort()
    .map((e) => join(dirname(path), e));
}

/** Reads a config (links inside HOST_MOUNT followed) with its mode; undefined when missing. */
async function readOptional(host: HostRoot, path: string): Promise<{ text: string; mode: number } | undefined> {
  try {
    const st = host.statFollow(path);
    if (st === undefined) return undefined;
    const bytes = await host.readFile(path, {
      maxBytes: MAX_CONTAINERD_CONFIG_BYTES,
      tooLarge: (size) =>
        new ContainerdConfigError(
          `containerd config ${path} has ${size} bytes: expected at most ${MAX_CONTAINERD_CONFIG_BYTES} bytes (1 MiB); it is not read`,
        ),
    });
    return bytes === undefined ? undefined : { text: bytes.toString('utf8'), mode: st.mode & 0o7777 };
  } catch (err) {
    if (err instanceof ContainerdConfigError || errorCode(err) === 'ERR_HOST_PATH') throw err;
    throw new ContainerdConfigError(`reading containerd config ${path}: ${errorMessage(err)}`, { cause: err });
  }
}
