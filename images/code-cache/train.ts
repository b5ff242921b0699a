/**
 * Training runs for code-cached bundles: run the bundled program once along its start-up path, with
 * CONTRAST_CODE_CACHE_OUT set, so that its loader writes a V8 code cache holding the bytecode of every
 * function that path compiled. The cache is only valid for the Node binary that ran the training, so
 * the training uses the binary the images are assembled from (the pinned one of package.json), with the
 * flags of flags.cts, and repeats until two runs agree, so that two builds write the same bytes. Two
 * passes: a first run compiles from source, and every counted run starts from its cache
 * (CONTRAST_CODE_CACHE_IN); in every run the loader holds timer callbacks until the cache is written
 * (hold-timers.cts; CONTRAST_CODE_CACHE_HOLD_MS, default 10 ms). These variables, like
 * CONTRAST_CODE_CACHE_OUT and _NAME, are the trainer's and the loader's alone, not configuration of
 * the program (docs/images.md).
 *
 * initializer: the pod path against a development Coordinator on loopback (insecure attestation: the
 * TEE issuers' device code is small and compiles on first use), from start to done file.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CodeCacheTrainingError } from '../errors.js';
import { CODE_CACHE_BUNDLE } from './files.js';
import { pinnedNode } from '../node-runtime.js';
import type { ProgramName } from '../../lib/programs.js';
import { DEFAULT_TLS_DIR } from '../../lib/pod-layout.js';
import { BUNDLE_DIR } from '../targets.js';
import { TRAINING_HASH_SEED_FLAG } from './flags.cjs';

export interface TrainOptions {
  /** The program's bundle directory (loader `main.cjs`, `program.cjs`). */
  readonly dir: string;
  /** The cache file to write (atomically). */
  readonly cacheFile: string;
  /** Node binary; default the pinned one, which the images carry (images/node-runtime.ts). */
  readonly node?: string;
  /** Budget for the training run; default 60 s. */
  readonly timeoutMs?: number;
}

/**
 * One training run: runs the program, which leaves its cache at `cacheOut`. Resolves false when the
 * run took a path other than the plain start-up path (e.g. it had to retry), so its cache does not count.
 */
type Trainer = (options: TrainOptions, workDir: string, cache: TrainingCache) => Promise<boolean>;

/** Where a run writes its cache, and the cache it starts from (none: compiled from source). */
interface TrainingCache {
  readonly out: string;
  readonly seed?: string;
}

/** Runs until two plain counted runs wrote the same bytes; at most this many (and as many first passes). */
const MAX_RUNS = 4;

const TRAINERS: Partial<Record<ProgramName, Trainer>> = { initializer: trainInitializer };

/**
 * Runs the program's training and leaves its cache at options.cacheFile; returns its size. The cache
 * must be reproducible: runs are repeated until two of them wrote the same bytes, which is then the
 * cache (V8's output is deterministic for the same path; a run that timing pushed off it, which a
 * loaded build machine can do, is outvoted).
 */
export async function trainCodeCache(program: ProgramName, options: TrainOptions): Promise<number> {
  const trainer = TRAINERS[program];
  if (trainer === undefined) throw new CodeCacheTrainingError(`${program}: no code-cache training run is defined`);
  const seedDir = await mkdtemp(join(tmpdir(), `contrast-code-cache-${program}-seed-`));
  try {
    // First pass, whose cache does not count: it warms this process's Coordinator code up, so that the
    // counted runs do not wait on a cold Coordinator (a slow first answer lets the program run code that
    // waits, which then lands in its cache too; two such runs would agree on it). Its cache is the seed
    // of the counted runs: each starts from it, so that every function they hold was deserialized from
    // the same bytes. V8 numbers functions in the order they are created (the SharedFunctionInfo's
    // unique id, which the cache stores): compiled from source, two functions whose first calls race
    // (a gRPC status and our answer's handler) get their numbers in either order, and two runs differed
    // in those bytes; deserialized, they are numbered in the cache's order. A seed from a run that had
    // to retry would carry the retry path into every cache: such a run is repeated (within MAX_RUNS).
    const seed = join(seedDir, 'seed.cache');
    let runs = 0;
    for (;;) {
      runs++;
      const first = await trainOnce(trainer, program, options);
      if (first !== undefined) {
        await writeFile(seed, first);
        break;
      }
      if (runs >= MAX_RUNS)
        throw new CodeCacheTrainingError(
          `${program}: ${runs} first-pass training runs all left the start-up path (they had to retry); no cache to start from`,
        );
    }
    const caches: Buffer[] = [];
    let offPath = 0;
    for (let run = 0; run < MAX_RUNS; run++) {
      const cache = await trainOnce(trainer, program, options, seed);
      if (cache === undefined) {
        offPath++;
        continue;
      }
      if (caches.some((c) => c.equals(cache))) {
        // Written beside the final name, then renamed: a failed training leaves no cache behind.
        const tmp = `${options.cacheFile}.training-${process.pid}`;
        try {
          await writeFile(tmp, cache);
          await rename(tmp, options.cacheFile);
        } finally {
          await rm(tmp, { force: true });
        }
        return cache.length;
      }
      caches.push(cache);
    }
    throw new CodeCacheTrainingError(
      `${program}: ${MAX_RUNS} training runs gave no two equal code caches (${caches.length} different, ${offPath} off the start-up path); the bundle would not be reproducible`,
    );
  } finally {
    await rm(seedDir, { recursive: true, force: true });
  }
}

/** One run; `seed`, when given, is the cache the run starts from (CONTRAST_CODE_CACHE_IN). */
async function trainOnce(
  trainer: Trainer,
  program: ProgramName,
  options: TrainOptions,
  seed?: string,
): Promise<Buffer | undefined> {
  const work = await mkdtemp(join(tmpdir(), `contrast-code-cache-${program}-`));
  try {
    const out = join(work, 'program.cache');
    const plain = await trainer(options, work, { out, ...(seed === undefined ? {} : { seed }) });
    if (!existsSync(out))
      throw new CodeCacheTrainingError(`${program}: the training run exited without writing a code cache`);
    return plain ? await readFile(out) : undefined;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function trainInitializer(options: TrainOptions, work: string, cache: TrainingCache): Promise<boolean> {
  const [{ startCoordinator }, { InsecureValidator }, { silentLogger }] = await Promise.all([
    import('../../lib/coordinator/coordinator.js'),
    import('../../lib/attestation/insecure.js'),
    import('../../lib/log.js'),
  ]);
  const hostData = createHash('sha256').update('contrast code-cache training').digest();
  const coordinator = await startCoordinator({
    listen: '127.0.0.1:0',
    manifest: {
      policies: new Map([
        [hostData.toString('hex'), { sans: ['code-cache-training'], workloadSecretID: 'code-cache-training' }],
      ]),
      referenceValues: { allowInsecure: true },
    },
    stateDir: join(work, 'coordinator'),
    validators: [new InsecureValidator()],
    logger: silentLogger(),
  });
  try {
    const done = join(work, 'pod', 'done');
    const stderr = await runChild(options, {
      COORDINATOR_HOST: `127.0.0.1:${coordinator.port}`,
      CONTRAST_TLS_DIR: join(work, 'pod', basename(DEFAULT_TLS_DIR)),
      CONTRAST_SECRETS_DIR: join(work, 'pod', 'secrets'),
      CONTRAST_DONE_FILE: done,
      CONTRAST_RETRY_INTERVAL: '1s',
      CONTRAST_ATTESTATION: 'insecure',
      CONTRAST_ALLOW_INSECURE_ATTESTATION: 'true',
      CONTRAST_INSECURE_HOST_DATA: hostData.toString('hex'),
      CONTRAST_LOG_LEVEL: 'warn',
      CONTRAST_CODE_CACHE_OUT: cache.out,
      ...(cache.seed === undefined ? {} : { CONTRAST_CODE_CACHE_IN: cache.seed }),
      CONTRAST_CODE_CACHE_NAME: `${BUNDLE_DIR}/initializer/${CODE_CACHE_BUNDLE}`,
    });
    if (!existsSync(done))
      throw new CodeCacheTrainingError('initializer: the training run exited 0 without writing its done file');
    // A failed attempt (its one WARN line, text as in the image, or JSON) means the run compiled the
    // retry path as well.
    return !/msg="Requesting cert"|"msg":"Requesting cert"/.test(stderr);
  } finally {
    await coordinator.close();
  }
}

/** Runs `node <dir>/main.cjs` with exactly `env` (plus PATH); resolves with its stderr, rejects with it on failure. */
function runChild(options: TrainOptions, env: Record<string, string>): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    // A fixed hash seed makes the cache's bytes, and so the image, reproducible (flags.cts). Only the
    // seed goes on the command line: the loader sets the whole list, as it does in the image.
    const child = spawn(options.node ?? pinnedNode().binary, [TRAINING_HASH_SEED_FLAG, join(options.dir, 'main.cjs')], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CodeCacheTrainingError(`training run of ${options.dir}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stderr);
      else
        reject(
          new CodeCacheTrainingError(
            `training run of ${options.dir} ended with ${signal === null ? `exit ${code}` : `${signal} (budget ${timeoutMs} ms)`}: ${stderr.trim().slice(-2000)}`,
          ),
        );
    });
  });
}
