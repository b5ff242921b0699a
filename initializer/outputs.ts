/**
 * Writing the results, exactly as upstream lays them out, each file atomically (temporary file in the
 * same directory, fsync, chmod, rename), and the done file last: the done file exists only if all the
 * other files do. A done file from an earlier run is removed first, so that a kill while this run
 * replaces files never leaves a done file beside a mix of old and new files.
 */
import { chmod, readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ensureDir, syncDir, writeFileAtomic } from '../lib/fs-atomic.js';
import { OutputWriteError } from './errors.js';
import type { MeshCerts } from './mesh-response.js';

export const FILES = Object.freeze({
  meshCA: 'mesh-ca.pem',
  certChain: 'certChain.pem',
  key: 'key.pem',
  rootCA: 'coordinator-root-ca.pem',
  workloadSecretSeed: 'workload-secret-seed',
});

export const MODES = Object.freeze({ dir: 0o755, cert: 0o444, secret: 0o400, done: 0o644 });

export interface OutputLayout {
  readonly tlsDir: string;
  readonly secretsDir: string;
  readonly doneFile: string;
}

export interface PlannedFile {
  readonly path: string;
  readonly data: string | Buffer;
  readonly mode: number;
}

/** The files in upstream's order (certificates, key, root, secret), without the done file. */
export function planOutputs(layout: OutputLayout, certs: MeshCerts, keyPem: string): PlannedFile[] {
  const files: PlannedFile[] = [
    { path: join(layout.tlsDir, FILES.meshCA), data: certs.meshCACert, mode: MODES.cert },
    { path: join(layout.tlsDir, FILES.certChain), data: certs.certChain, mode: MODES.cert },
    { path: join(layout.tlsDir, FILES.key), data: keyPem, mode: MODES.secret },
    { path: join(layout.tlsDir, FILES.rootCA), data: certs.rootCACert, mode: MODES.cert },
  ];
  if (certs.workloadSecret.length > 0) {
    files.push({ path: join(layout.secretsDir, FILES.workloadSecretSeed), data: certs.workloadSecret.toString('hex'), mode: MODES.secret });
  }
  return files;
}

/**
 * Writes the files of the TLS directory in one go (renewal mode: as one generation, see
 * tls-generation.ts); returns the paths written.
 */
export type TlsWriter = (files: readonly PlannedFile[]) => Promise<string[]>;

/**
 * Writes every planned file, then the done file. Returns the paths written, done file last. With
 * `writeTls`, the files of the TLS directory go through it instead of one by one.
 */
export async function writeOutputs(layout: OutputLayout, certs: MeshCerts, keyPem: string, writeTls?: TlsWriter): Promise<string[]> {
  await removeStaleDone(layout.doneFile);
  for (const dir of [layout.tlsDir, layout.secretsDir]) {
    await step(dir, async () => {
      await ensureDir(dir, MODES.dir);
      await chmod(dir, MODES.dir);
    });
  }
  const planned = planOutputs(layout, certs, keyPem);
  const inTlsDir = (f: PlannedFile): boolean => dirname(f.path) === layout.tlsDir && basename(f.path) !== FILES.workloadSecretSeed;
  await removeLeftovers([...planned.map((f) => f.path), join(layout.secretsDir, FILES.workloadSecretSeed), layout.doneFile]);
  const written: string[] = [];
  if (writeTls !== undefined) {
    const tls = planned.filter(inTlsDir);
    await step(layout.tlsDir, async () => { written.push(...await writeTls(tls)); });
  }
  for (const file of planned.filter((f) => writeTls === undefined || !inTlsDir(f))) {
    await step(file.path, () => writeFileAtomic(file.path, file.data, { mode: file.mode }));
    written.push(file.path);
  }
  await step(layout.doneFile, async () => {
    await ensureDir(dirname(layout.doneFile));
    await writeFileAtomic(layout.doneFile, '', { mode: MODES.done, skipIfSame: false });
  });
  written.push(layout.doneFile);
  return written;
}

/**
 * Temporary files of a run that was killed mid-write (`.<name>.tmp-<hex>`, the naming of
 * lib/fs-atomic): they may hold key material, so they go before this run writes.
 */
async function removeLeftovers(paths: readonly string[]): Promise<void> {
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) byDir.set(dirname(p), (byDir.get(dirname(p)) ?? new Set()).add(basename(p)));
  for (const [dir, names] of byDir) {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const m = /^\.(.+)\.tmp-[0-9a-f]+$/.exec(entry);
      if (m?.[1] !== undefined && names.has(m[1])) await step(join(dir, entry), () => unlink(join(dir, entry)));
    }
  }
}

async function removeStaleDone(doneFile: string): Promise<void> {
  try {
    await unlink(doneFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new OutputWriteError(doneFile, { cause: err });
  }
  await step(doneFile, () => syncDir(dirname(doneFile)));
}

async function step(path: string, action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (err) {
    throw new OutputWriteError(path, { cause: err });
  }
}
