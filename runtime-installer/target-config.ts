/**
 * Target (host) configuration: the optional `contrast-node-installer-target-config` ConfigMap mounted
 * at TARGET_CONFIG_DIR, one file per key. Missing directory → platform defaults.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { TargetConfigError } from './errors.js';
import { kataConfigFileName, type Platform } from './platforms.js';
import { errorCode } from '../lib/errors.js';

export interface TargetConfig {
  /** Host-relative containerd config path; a `.tmpl` suffix selects template mode. */
  readonly containerdConfigPath: string;
  /** Candidate units, the first one that exists is restarted. */
  readonly units: readonly string[];
  readonly restartUnit: boolean;
  /** Host-relative path of the Kata config, or undefined for `<runtimeBase>/etc/<file>`. */
  readonly kataConfigPath: string | undefined;
}

const KEYS = ['containerd-config-path', 'systemd-unit-name', 'restart-systemd-unit', 'kata-config-path'] as const;
type Key = (typeof KEYS)[number];

const TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

/** Reads the directory (recursively, regular files only; `..data` style ConfigMap links resolve). */
export async function readTargetConfig(
  dir: string,
  platform: Platform,
): Promise<{ config: TargetConfig; found: boolean }> {
  const values = new Map<Key, string>();
  let found = true;
  try {
    await collect(dir, dir, values);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    found = false;
  }
  const unitsText = values.get('systemd-unit-name');
  const restartText = values.get('restart-systemd-unit');
  let restartUnit = true;
  if (restartText !== undefined) {
    if (TRUE.includes(restartText)) restartUnit = true;
    else if (FALSE.includes(restartText)) restartUnit = false;
    else
      throw new TargetConfigError(`restart-systemd-unit=${restartText}: expected a boolean (true, false, 1, 0, t, f)`);
  }
  const cfgPath = values.get('containerd-config-path');
  const kataPath = values.get('kata-config-path');
  for (const [key, v] of [
    ['containerd-config-path', cfgPath],
    ['kata-config-path', kataPath],
  ] as const) {
    if (v !== undefined && v.split('/').includes('..'))
      throw new TargetConfigError(`${key}=${v}: expected a host path without '..'`);
  }
  return {
    found,
    config: Object.freeze({
      containerdConfigPath: stripSlash(cfgPath ?? platform.defaults.containerdConfigPath),
      units: Object.freeze(
        unitsText === undefined ? [...platform.defaults.units] : unitsText.split(/[\s,]+/).filter((u) => u !== ''),
      ),
      restartUnit,
      kataConfigPath: kataPath === undefined ? undefined : stripSlash(kataPath),
    }),
  };
}

/** The default Kata config path (host-relative) for a handler. */
export function defaultKataConfigPath(platform: Platform, handler: string): string {
  return `opt/edgeless/${handler}/etc/${kataConfigFileName(platform)}`;
}

function stripSlash(p: string): string {
  return p.replace(/^\/+/, '');
}

async function collect(root: string, dir: string, out: Map<Key, string>): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    // ConfigMap volumes hold `..data` and `..<timestamp>` directories behind the key symlinks.
    if (entry.name.startsWith('..')) continue;
    const path = join(dir, entry.name);
    const st = await stat(path);
    if (st.isDirectory()) {
      await collect(root, path, out);
      continue;
    }
    if (!st.isFile()) continue;
    const name = relative(root, path);
    if (!(KEYS as readonly string[]).includes(name)) {
      throw new TargetConfigError(
        `unexpected file ${name} in target config dir ${root}: expected one of ${KEYS.join(', ')}`,
      );
    }
    const value = (await readFile(path, 'utf8')).trim();
    if (value === '') throw new TargetConfigError(`${name} cannot be empty (in target config dir ${root})`);
    out.set(name as Key, value);
  }
}
