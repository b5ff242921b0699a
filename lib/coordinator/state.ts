/**
 * The development Coordinator's state directory.
 *
 *   root-ca.key   0600  PKCS#8 PEM of the root CA key (P-384); created once, kept across restarts
 *   root-ca.pem   0644  root CA certificate (stable while root-ca.key is)
 *   secrets.json  0600  {"seed": <128 hex>, "salt": <64 hex>} for workload secrets; created once
 *   mesh-ca.pem   0644  mesh CA certificate of this run (new P-384 key per start, i.e. per manifest,
 *                       and per rotation: SIGHUP or `contrast-dev coordinator rotate`)
 *   intermediate-ca.pem 0644  the mesh CA key certified by the root (second half of CertChain)
 *
 * Clients receive exactly the bytes of mesh-ca.pem and root-ca.pem, so tests can compare.
 */
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContrastError, errorCode, errorMessage } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../fs-atomic.js';
import { createMeshCa, createRootCa, newP384Key } from './ca.js';
import { toPem } from '../x509/pem.js';
import { SALT_LENGTH, SEED_LENGTH } from './workload-secret.js';

export class StateError extends ContrastError {
  readonly code = 'ERR_DEV_STATE';
}

export interface CoordinatorState {
  readonly rootCAPem: string;
  readonly meshCAPem: string;
  readonly intermediatePem: string;
  readonly meshCAKey: KeyObject;
  /** Kept in memory so that the mesh CA can be rotated under the same root. */
  readonly rootKey: KeyObject;
  readonly seed: Buffer;
  readonly salt: Buffer;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw new StateError(`reading ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

async function loadSecrets(path: string): Promise<{ seed: Buffer; salt: Buffer }> {
  const text = await readIfExists(path);
  if (text === undefined) {
    const seed = randomBytes(SEED_LENGTH);
    const salt = randomBytes(SALT_LENGTH);
    await writeFileAtomic(path, JSON.stringify({ seed: seed.toString('hex'), salt: salt.toString('hex') }) + '\n', {
      mode: 0o600,
    });
    return { seed, salt };
  }
  let parsed: { seed?: unknown; salt?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (err) {
    throw new StateError(`${path}: expected JSON {"seed": <hex>, "salt": <hex>}`, { cause: err });
  }
  const hex = (v: unknown, len: number, name: string): Buffer => {
    if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${len * 2}}$`).test(v))
      throw new StateError(`${path}: ${name}: expected ${len * 2} lowercase hex digits`);
    return Buffer.from(v, 'hex');
  };
  return { seed: hex(parsed.seed, SEED_LENGTH, 'seed'), salt: hex(parsed.salt, SALT_LENGTH, 'salt') };
}

async function loadRoot(dir: string): Promise<{ rootKey: KeyObject; rootCAPem: string }> {
  const keyPath = join(dir, 'root-ca.key');
  const certPath = join(dir, 'root-ca.pem');
  const keyPem = await readIfExists(keyPath);
  let rootKey: KeyObject;
  if (keyPem === undefined) {
    rootKey = await newP384Key();
    await writeFileAtomic(keyPath, rootKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  } else {
    try {
      rootKey = createPrivateKey(keyPem);
    } catch (err) {
      throw new StateError(`${keyPath}: expected a PEM private key`, { cause: err });
    }
  }
  let rootCAPem = keyPem === undefined ? undefined : await readIfExists(certPath);
  if (rootCAPem === undefined) {
    rootCAPem = toPem(createRootCa(rootKey), 'CERTIFICATE');
    await writeFileAtomic(certPath, rootCAPem, { mode: 0o644 });
  }
  return { rootKey, rootCAPem };
}

/** Loads (or creates) the persistent parts and creates this run's mesh CA; writes the PEM files. */
export async function prepareState(dir: string): Promise<CoordinatorState> {
  await ensureDir(dir, 0o700);
  const { seed, salt } = await loadSecrets(join(dir, 'secrets.json'));
  const { rootKey, rootCAPem } = await loadRoot(dir);
  return { rootCAPem, rootKey, seed, salt, ...(await newMeshCa(dir, rootKey)) };
}

/**
 * A new mesh CA (new key, new self-signed certificate and intermediate) under the same root, seed and
 * salt: what a manifest update or a recovery does to the upstream Coordinator's CA.
 */
export async function rotateMeshCa(dir: string, state: CoordinatorState): Promise<CoordinatorState> {
  return { ...state, ...(await newMeshCa(dir, state.rootKey)) };
}

async function newMeshCa(
  dir: string,
  rootKey: KeyObject,
): Promise<Pick<CoordinatorState, 'meshCAPem' | 'intermediatePem' | 'meshCAKey'>> {
  const meshCAKey = await newP384Key();
  const { meshCACert, intermediateCert } = createMeshCa(rootKey, meshCAKey);
  const meshCAPem = toPem(meshCACert, 'CERTIFICATE');
  const intermediatePem = toPem(intermediateCert, 'CERTIFICATE');
  await writeFileAtomic(join(dir, 'mesh-ca.pem'), meshCAPem, { mode: 0o644 });
  await writeFileAtomic(join(dir, 'intermediate-ca.pem'), intermediatePem, { mode: 0o644 });
  return { meshCAPem, intermediatePem, meshCAKey };
}
