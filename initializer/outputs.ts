/**
 * Writing the results, exactly as upstream lays them out, each file atomically (temporary file in the
 * same directory, fsync, chmod, rename), and the done file last: the done file exists only if all the
 * other files do. A done file from an earlier run is removed first, so that a kill while this run
 * replaces files never leaves a done file beside a mix of old and new files.
 */
import { chmod, unlink } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { ensureDir, removeStaleTemps, syncDir, writeFileAtomic } from '../lib/fs-atomic.js';
import { OutputWriteError } from './errors.js';
import type { MeshCerts } from './mesh-response.js';
import { errorCode } from '../lib/errors.js';
import { TLS_FILES, WORKLOAD_SECRET_SEED_FILE } from '../lib/pod-layout.js';

/** The output files' names (lib/pod-layout.ts). */
export const FILES = Object.freeze({ ...TLS_FILES, workloadSecretSeed: WORKLOAD_SECRET_SEED_FILE });

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

/**
 * Every output must have a path of its own: a done file at `key.pem` would be emptied after the key
 * was written and the run would still say done. Returns one problem per collision, each naming the
 * variables involved (the caller reports them as configuration errors). A file may not be a directory
 * that is used (or one above it); the two directories may be the same, their file names differ.
 */
export function outputLayoutProblems(
  layout: OutputLayout,
  names: { tlsDir: string; secretsDir: string; doneFile: string },
): string[] {
  interface Output {
    readonly path: string;
    readonly what: string;
    readonly file: boolean;
  }
  const norm = (p: string): string => posix.normalize(p).replace(/(.)\/+$/, '$1');
  const outputs: Output[] = [
    { path: norm(layout.tlsDir), what: `${names.tlsDir}=${layout.tlsDir}`, file: false },
    { path: norm(layout.secretsDir), what: `${names.secretsDir}=${layout.secretsDir}`, file: false },
    ...[FILES.meshCA, FILES.certChain, FILES.key, FILES.rootCA].map((f) => ({
      path: norm(join(layout.tlsDir, f)),
      what: `${f} in ${names.tlsDir}`,
      file: true,
    })),
    {
      path: norm(join(layout.secretsDir, FILES.workloadSecretSeed)),
      what: `${FILES.workloadSecretSeed} in ${names.secretsDir}`,
      file: true,
    },
    { path: norm(layout.doneFile), what: `${names.doneFile}=${layout.doneFile}`, file: true },
  ];
  const problems: string[] = [];
  for (const [i, a] of outputs.entries()) {
    for (const b of outputs.slice(i + 1)) {
      if (!a.file && !b.file) continue;
      const clash =
        a.path === b.path
          ? 'the same path'
          : a.file && b.path.startsWith(`${a.path === '/' ? '' : a.path}/`)
            ? `a file above ${b.path}`
            : b.file && a.path.startsWith(`${b.path === '/' ? '' : b.path}/`)
              ? `a file above ${a.path}`
              : undefined;
      if (clash !== undefined)
        problems.push(`${a.what} and ${b.what}: ${clash}; expected a distinct path for each output`);
    }
  }
  return problems;
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
    files.push({
      path: join(layout.secretsDir, FILES.workloadSecretSeed),
      data: certs.workloadSecret.toString('hex'),
      mode: MODES.secret,
    });
  }
  return files;
}

/**
 * Writes the files of the TLS directory in one go (renewal mode: as one generation, see
 * tls-generation.ts); returns the paths written.
 */
export type TlsWriter = (files: readonly PlannedFile[]) => Promise<string[]>;

export interface OutputHooks {
  /** The files of the TLS directory go through it instead of one by one (renewal mode). */
  readonly writeTls?: TlsWriter;
  /** Runs after the files and before the done file (the encrypted volume, which needs the seed file); when it fails, there is no done file. */
  readonly beforeDone?: () => Promise<void>;
}

/** Writes every planned file, then the done file. Returns the paths written, done file last. */
export async function writeOutputs(
  layout: OutputLayout,
  certs: MeshCerts,
  keyPem: string,
  hooks: OutputHooks = {},
): Promise<string[]> {
  const { writeTls, beforeDone } = hooks;
  await removeStaleDone(layout.doneFile);
  for (const dir of [layout.tlsDir, layout.secretsDir]) {
    await step(dir, async () => {
      await ensureDir(dir, MODES.dir);
      await chmod(dir, MODES.dir);
    });
  }
  const planned = planOutputs(layout, certs, keyPem);
  const inTlsDir = (f: PlannedFile): boolean =>
    dirname(f.path) === layout.tlsDir && basename(f.path) !== FILES.workloadSecretSeed;
  await removeLeftovers([
    ...planned.map((f) => f.path),
    join(layout.secretsDir, FILES.workloadSecretSeed),
    layout.doneFile,
  ]);
  const written: string[] = [];
  if (writeTls !== undefined) {
    const tls = planned.filter(inTlsDir);
    await step(layout.tlsDir, async () => {
      written.push(...(await writeTls(tls)));
    });
  }
  for (const file of planned.filter((f) => writeTls === undefined || !inTlsDir(f))) {
    await step(file.path, () => writeFileAtomic(file.path, file.data, { mode: file.mode }));
    written.push(file.path);
  }
  await beforeDone?.();
  await step(layout.doneFile, async () => {
    await ensureDir(dirname(layout.doneFile));
    await writeFileAtomic(layout.doneFile, '', { mode: MODES.done, skipIfSame: false });
  });
  written.push(layout.doneFile);
  return written;
}

/**
 * What a run that was killed mid-write left under a temporary name (lib/fs-atomic's naming): it may
 * hold key material, so it goes before this run writes, whatever it is (file, directory, fifo, link).
 */
async function removeLeftovers(paths: readonly string[]): Promise<void> {
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) byDir.set(dirname(p), (byDir.get(dirname(p)) ?? new Set()).add(basename(p)));
  for (const [dir, names] of byDir) {
    await step(dir, () => removeStaleTemps(dir, (name) => names.has(name)));
  }
}

async function removeStaleDone(doneFile: string): Promise<void> {
  try {
    await unlink(doneFile);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
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
