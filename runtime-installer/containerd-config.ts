/**
 * Reading and writing the host's containerd configuration: template mode (k3s/RKE2 `.tmpl`), one
 * backup of the original before our first change, atomic replace, no write when nothing changes.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../lib/fs-atomic.js';
import { ContainerdConfigError } from './errors.js';
import { addRuntime, editTemplate, removeRuntime, type EditOptions, type RuntimeEntry } from './containerd-edit.js';
import { addSnapshotterConfig, removeSnapshotterConfig, type SnapshotterSetup } from './snapshotter.js';

export interface ContainerdConfigPlan {
  /** Absolute path that is written (the `.tmpl` in template mode). */
  readonly target: string;
  /** Bytes at `target` now (undefined when it does not exist yet). */
  readonly current: string | undefined;
  /** Bytes to write; equal to `current` when up to date. */
  readonly next: string;
  readonly mode: number;
  readonly templateMode: boolean;
}

/**
 * Computes the change without touching the host. In template mode the template is edited when it
 * exists (Go directive lines kept, see editTemplate), otherwise the rendered config is the starting
 * point. A missing or invalid config is an error.
 */
export async function planContainerdConfig(
  path: string,
  edit: (text: string, source: string) => string,
  templated: (text: string, source: string, criId: string) => string,
): Promise<ContainerdConfigPlan> {
  const templateMode = path.endsWith('.tmpl');
  const current = await readOptional(path);
  let base = current;
  let baseMode = current === undefined ? undefined : await modeOf(path);
  let source = path;
  if (templateMode && current === undefined) {
    const rendered = path.slice(0, -'.tmpl'.length);
    base = await readOptional(rendered);
    if (base === undefined) throw new ContainerdConfigError(`containerd config ${rendered} (rendered config of template ${path}) does not exist: expected the file the container runtime was started with`);
    baseMode = await modeOf(rendered);
    source = rendered;
  }
  if (base === undefined) throw new ContainerdConfigError(`containerd config ${path} does not exist: expected an existing containerd config file`);
  if (templateMode && current !== undefined && current.includes('{{')) {
    const renderedPath = path.slice(0, -'.tmpl'.length);
    const rendered = await readOptional(renderedPath);
    if (rendered === undefined) throw new ContainerdConfigError(`containerd config ${renderedPath} (rendered config of template ${path}) does not exist: expected the file the container runtime was started with`);
    return { target: path, current, next: editTemplate(current, rendered, path, renderedPath, templated), mode: baseMode ?? 0o644, templateMode };
  }
  return { target: path, current, next: edit(base, source), mode: baseMode ?? 0o644, templateMode };
}

/**
 * Our runtime entry, then (seed generation) the snapshotter's proxy plugin as a separate step.
 */
export function planAdd(path: string, entry: RuntimeEntry, options: EditOptions, snapshotter?: SnapshotterSetup): Promise<ContainerdConfigPlan> {
  const withSnapshotter = (text: string, source: string, criId?: string) => (snapshotter === undefined ? text : addSnapshotterConfig(text, snapshotter, source, criId));
  return planContainerdConfig(
    path,
    (text, source) => withSnapshotter(addRuntime(text, entry, source, options), source),
    // In a template with directives the base config may define [debug]; it is left alone.
    (text, source, criId) => withSnapshotter(addRuntime(text, entry, source, { criId }), source, criId),
  );
}

export async function planRemove(path: string, handler: string, snapshotter?: SnapshotterSetup): Promise<ContainerdConfigPlan | undefined> {
  const templateMode = path.endsWith('.tmpl');
  if (templateMode && (await readOptional(path)) === undefined) return undefined;
  const withoutSnapshotter = (text: string, source: string) => (snapshotter === undefined ? text : removeSnapshotterConfig(text, snapshotter, source));
  return planContainerdConfig(
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
 * Applies the plan: backup of the original before our first change (`<path>.<unix>.bak`, only when no
 * backup exists yet), then atomic replace. Returns the backup path written, if any.
 */
export async function applyContainerdConfig(plan: ContainerdConfigPlan, now = Date.now()): Promise<{ written: boolean; backup: string | undefined }> {
  if (!changes(plan)) return { written: false, backup: undefined };
  let backup: string | undefined;
  if (plan.current !== undefined && plan.current !== '' && (await existingBackups(plan.target)).length === 0) {
    backup = `${plan.target}.${Math.floor(now / 1000)}.bak`;
    await writeFileAtomic(backup, plan.current, { mode: plan.mode });
  }
  await writeFileAtomic(plan.target, plan.next, { mode: plan.mode });
  return { written: true, backup };
}

/** Backups `<name>.<digits>.bak` beside the config, oldest first. */
export async function existingBackups(path: string): Promise<string[]> {
  const name = basename(path);
  const re = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+\\.bak$`);
  const entries = await readdir(dirname(path)).catch(() => [] as string[]);
  return entries.filter((e) => re.test(e)).sort().map((e) => join(dirname(path), e));
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ContainerdConfigError(`reading containerd config ${path}`, { cause: err });
  }
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o7777;
}
