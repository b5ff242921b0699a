/**
 * The install manifest `contrast-node-install.json`: files to lay down plus runtime options.
 * Field names match case-insensitively (exact match first), as Go's encoding/json does.
 */
import { createHash } from 'node:crypto';
import { ManifestError } from './errors.js';
import { parseSri, type Sri } from './sri.js';
import { errorMessage } from '../errors.js';

export const RUNTIME_NAME_PLACEHOLDER = '@@runtimeName@@';
const RUNTIME_BASE_PLACEHOLDER = '@@runtimeBase@@';

export interface ManifestFile {
  readonly url: URL;
  /** Absolute host path (without HOST_MOUNT), placeholder not yet substituted. */
  readonly path: string;
  readonly integrity: Sri | undefined;
  readonly executable: boolean;
}

export interface InstallManifest {
  readonly files: readonly ManifestFile[];
  readonly debugRuntime: boolean;
  readonly qemuExtraKernelParams: string;
  readonly runtimeHandlerName: string | undefined;
  /**
   * Seed generation (Contrast v1.2): the snapshotter the runtime uses, served by a DaemonSet sidecar
   * (`tardev` on AKS-CLH-SNP, `nydus` on bare metal). Absent in the newest generation (guest pull).
   */
  readonly snapshotter: Snapshotter | undefined;
  /** sha256 of the manifest bytes, hex; feeds the derived handler name. */
  readonly sha256: string;
}

type Json = Record<string, unknown>;

export const SNAPSHOTTERS = ['tardev', 'nydus'] as const;
export type Snapshotter = (typeof SNAPSHOTTERS)[number];

function field(obj: Json, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const HANDLER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Parses and validates the manifest bytes; every problem is collected into one ManifestError. */
export function parseManifest(bytes: Buffer, source: string): InstallManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ManifestError(`${source}: expected a JSON object: ${errorMessage(err)}`);
  }
  if (!isObject(raw)) throw new ManifestError(`${source}: expected a JSON object`);
  const problems: string[] = [];
  const filesRaw = field(raw, 'files') ?? [];
  const files: ManifestFile[] = [];
  if (!Array.isArray(filesRaw)) problems.push('files: expected an array');
  else
    filesRaw.forEach((entry, i) => {
      const f = parseFile(entry, `files[${i}]`, problems);
      if (f !== undefined) files.push(f);
    });
  const debugRuntime = field(raw, 'debugRuntime') ?? false;
  if (typeof debugRuntime !== 'boolean') problems.push('debugRuntime: expected a boolean');
  const params = field(raw, 'qemuExtraKernelParams') ?? '';
  if (typeof params !== 'string') problems.push('qemuExtraKernelParams: expected a string');
  const handler = field(raw, 'runtimeHandlerName');
  if (handler !== undefined && handler !== '' && (typeof handler !== 'string' || !HANDLER_NAME.test(handler))) {
    problems.push(
      `runtimeHandlerName=${JSON.stringify(handler)}: expected a DNS label (lowercase letters, digits, '-', at most 63)`,
    );
  }
  const snapshotter = field(raw, 'snapshotter') ?? '';
  if (snapshotter !== '' && !(SNAPSHOTTERS as readonly unknown[]).includes(snapshotter)) {
    problems.push(
      `snapshotter=${JSON.stringify(snapshotter)}: expected one of ${SNAPSHOTTERS.join(', ')} (or no snapshotter: guest pull)`,
    );
  }
  if (problems.length > 0) throw new ManifestError(`${source}: ${problems.join('; ')}`);
  return Object.freeze({
    files: Object.freeze(files),
    debugRuntime: debugRuntime === true,
    qemuExtraKernelParams: typeof params === 'string' ? params : '',
    runtimeHandlerName: typeof handler === 'string' && handler !== '' ? handler : undefined,
    snapshotter: snapshotter === '' ? undefined : (snapshotter as Snapshotter),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  });
}

function parseFile(entry: unknown, at: string, problems: string[]): ManifestFile | undefined {
  if (!isObject(entry)) {
    problems.push(`${at}: expected an object`);
    return undefined;
  }
  const before = problems.length;
  const urlText = field(entry, 'url');
  let url: URL | undefined;
  if (typeof urlText !== 'string' || urlText === '') problems.push(`${at}.url: expected a non-empty URL`);
  else if (!URL.canParse(urlText)) problems.push(`${at}.url=${urlText}: expected a valid URL`);
  else {
    url = new URL(urlText);
    if (!['http:', 'https:', 'file:'].includes(url.protocol)) {
      problems.push(`${at}.url=${urlText}: url scheme must be http, https, or file`);
    }
  }
  const path = field(entry, 'path');
  if (typeof path !== 'string' || path === '') problems.push(`${at}.path: expected a non-empty absolute path`);
  else if (!path.replaceAll(RUNTIME_BASE_PLACEHOLDER, '').startsWith('/')) {
    problems.push(`${at}.path=${path}: expected an absolute path`);
  } else if (path.split('/').includes('..')) problems.push(`${at}.path=${path}: expected a path without '..'`);
  const integrityText = field(entry, 'integrity') ?? '';
  let integrity: Sri | undefined;
  if (typeof integrityText !== 'string') problems.push(`${at}.integrity: expected a string`);
  else if (integrityText === '') {
    if (url !== undefined && url.protocol !== 'file:')
      problems.push(`${at}.integrity: required for ${url.protocol}// URLs`);
  } else {
    const sri = parseSri(integrityText);
    if (typeof sri === 'string') problems.push(`${at}.${sri}`);
    else integrity = sri;
  }
  const executable = field(entry, 'executable') ?? false;
  if (typeof executable !== 'boolean') problems.push(`${at}.executable: expected a boolean`);
  if (problems.length > before || url === undefined || typeof path !== 'string') return undefined;
  return Object.freeze({ url, path, integrity, executable: executable === true });
}

/**
 * The runtime handler name: the manifest's `runtimeHandlerName` when present, otherwise
 * `contrast-cc-<platform>-<first 8 hex of sha256(manifest)>`.
 */
export function runtimeHandlerName(manifest: InstallManifest, platform: { readonly name: string }): string {
  return manifest.runtimeHandlerName ?? `contrast-cc-${platform.name.toLowerCase()}-${manifest.sha256.slice(0, 8)}`;
}

/** The host path (without HOST_MOUNT) of a manifest entry for a handler. */
export function hostPathOf(file: ManifestFile, handler: string): string {
  return file.path
    .replaceAll(RUNTIME_NAME_PLACEHOLDER, handler)
    .replaceAll(RUNTIME_BASE_PLACEHOLDER, `/opt/edgeless/${handler}`);
}
