/**
 * The development Coordinator's manifest (JSON):
 *
 *   {
 *     "policies": {
 *       "<64 hex: policy / initdata hash = HOST_DATA>": { "sans": ["web", "*"], "workloadSecretID": "apps/v1/Deployment/default/web" }
 *     },
 *     "referenceValues": {
 *       "snp": { "trustedArks": ["<PEM or path to a PEM file>"] },
 *       "tdx": { "trustedRoots": ["<PEM or path>"] },
 *       "allowInsecure": false
 *     }
 *   }
 *
 * Upstream's spelling of the policy fields (`Policies`, `SANs`, `WorkloadSecretID`) is accepted too.
 * Relative paths are resolved against the manifest's directory. Every problem is reported at once.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { ConfigError, errorMessage } from '../errors.js';

export interface DevPolicy {
  readonly sans: readonly string[];
  readonly workloadSecretID?: string;
}

export interface DevReferenceValues {
  readonly snp?: { readonly trustedArkPems: readonly string[] };
  readonly tdx?: { readonly trustedRootPems: readonly string[] };
  readonly allowInsecure: boolean;
}

export interface DevManifest {
  /** Keyed by lowercase hex host data. */
  readonly policies: ReadonlyMap<string, DevPolicy>;
  readonly referenceValues: DevReferenceValues;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pick(o: Json, ...names: string[]): unknown {
  for (const n of names) if (n in o) return o[n];
  return undefined;
}

/** Parses and validates manifest text. `baseDir` resolves relative trust-anchor paths. */
export function parseManifest(text: string, source: string, baseDir: string = dirname(source)): DevManifest {
  const problems: string[] = [];
  const at = (path: string, msg: string): void => {
    problems.push(`manifest ${source}: ${path}: ${msg}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`manifest ${source}: expected JSON (${errorMessage(err)})`]);
  }
  if (!isObject(raw)) throw new ConfigError([`manifest ${source}: expected a JSON object`]);

  const policies = new Map<string, DevPolicy>();
  const rawPolicies = pick(raw, 'policies', 'Policies');
  if (!isObject(rawPolicies)) at('policies', 'expected an object keyed by 64-hex-digit host data');
  else {
    for (const [key, value] of Object.entries(rawPolicies)) {
      const path = `policies[${JSON.stringify(key)}]`;
      if (!/^[0-9a-fA-F]{64}$/.test(key)) at(path, 'key: expected 64 hex digits (the policy hash / HOST_DATA)');
      if (!isObject(value)) {
        at(path, 'expected an object with sans and optional workloadSecretID');
        continue;
      }
      const sans = pick(value, 'sans', 'SANs');
      if (!Array.isArray(sans) || sans.some((s) => typeof s !== 'string' || s === '')) {
        at(`${path}.sans`, 'expected an array of non-empty strings');
        continue;
      }
      const id = pick(value, 'workloadSecretID', 'WorkloadSecretID');
      if (id !== undefined && typeof id !== 'string') at(`${path}.workloadSecretID`, 'expected a string');
      const policy: DevPolicy =
        typeof id === 'string' && id !== ''
          ? { sans: sans as string[], workloadSecretID: id }
          : { sans: sans as string[] };
      policies.set(key.toLowerCase(), policy);
    }
  }

  const rawRefs = pick(raw, 'referenceValues', 'ReferenceValues');
  let referenceValues: DevReferenceValues = { allowInsecure: false };
  if (!isObject(rawRefs)) at('referenceValues', 'expected an object saying which attestation documents are accepted');
  else {
    const anchors = (path: string, v: unknown): string[] | undefined => {
      if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x === '')) {
        at(path, 'expected a non-empty array of PEM strings or paths to PEM files');
        return undefined;
      }
      const out: string[] = [];
      for (const [i, x] of (v as string[]).entries()) {
        if (x.includes('-----BEGIN')) {
          out.push(x);
          continue;
        }
        const file = isAbsolute(x) ? x : join(baseDir, x);
        try {
          out.push(readFileSync(file, 'utf8'));
        } catch (err) {
          at(`${path}[${i}]`, `cannot read ${file}: ${errorMessage(err)}`);
        }
      }
      return out;
    };
    const allowInsecure = rawRefs['allowInsecure'] ?? false;
    if (typeof allowInsecure !== 'boolean') at('referenceValues.allowInsecure', 'expected true or false');
    let refs: { -readonly [K in keyof DevReferenceValues]: DevReferenceValues[K] } = {
      allowInsecure: allowInsecure === true,
    };
    const snp = rawRefs['snp'];
    if (snp !== undefined) {
      const pems = isObject(snp)
        ? anchors('referenceValues.snp.trustedArks', snp['trustedArks'])
        : (at('referenceValues.snp', 'expected an object with trustedArks'), undefined);
      if (pems !== undefined) refs = { ...refs, snp: { trustedArkPems: pems } };
    }
    const tdx = rawRefs['tdx'];
    if (tdx !== undefined) {
      const pems = isObject(tdx)
        ? anchors('referenceValues.tdx.trustedRoots', tdx['trustedRoots'])
        : (at('referenceValues.tdx', 'expected an object with trustedRoots'), undefined);
      if (pems !== undefined) refs = { ...refs, tdx: { trustedRootPems: pems } };
    }
    if (refs.snp === undefined && refs.tdx === undefined && !refs.allowInsecure && problems.length === 0) {
      at('referenceValues', 'accepts no attestation document: expected snp, tdx, or allowInsecure: true');
    }
    referenceValues = refs;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { policies, referenceValues };
}

export async function loadManifest(path: string): Promise<DevManifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`--manifest=${path}: cannot read (${errorMessage(err)})`]);
  }
  return parseManifest(text, path);
}
