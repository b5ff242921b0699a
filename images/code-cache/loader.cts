/**
 * The entry of a code-cached bundle (`<program>/main.cjs`): runs the program's single CommonJS bundle
 * `program.cjs` through vm.Script with the V8 code cache `program.cache` that the bundler trained on
 * the program's own start-up path (see code-cache/train.ts). With the cache accepted, V8 deserializes
 * the bytecode of every function that path ran instead of parsing and compiling 2 MB of JavaScript.
 *
 * The cache is only an accelerator: when it is absent, damaged, or V8 rejects it (another Node binary
 * or V8 flags than the training run's), the program is compiled from source as usual. Which happened
 * is left in `globalThis[Symbol.for('contrast.codeCache')]` for the program's start-up log.
 *
 * File format: "CCC1", SHA-256 of the payload (32 bytes), the V8 cache. V8 does not checksum a code
 * cache in release builds, and a damaged one crashes the process: the digest is checked first.
 *
 * Training (the bundler's train.ts only; internal, not configuration of the program):
 * - CONTRAST_CODE_CACHE_OUT=<file> writes a fresh cache to <file> at the program's checkpoint
 *   (lib/code-cache-state.ts) or at exit, holding every function compiled by then;
 *   CONTRAST_CODE_CACHE_NAME names the script in it. A training run reads no `program.cache` beside
 *   the loader (a stray one would leak into the new cache), only:
 * - CONTRAST_CODE_CACHE_IN=<file>: the cache to start from (the trainer's first pass); V8 must accept
 *   it, or the run fails;
 * - CONTRAST_CODE_CACHE_HOLD_MS=<ms>: timers of at least this delay are held until the cache is
 *   written (hold-timers.cts; default HOLD_MIN_DELAY_MS).
 *
 * Deliberately plain: built-in modules only, nothing that the program itself would load later.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Script } from 'node:vm';
import { CODE_CACHE_V8_FLAGS } from './flags.cjs';
import { HOLD_MIN_DELAY_MS, holdTimers } from './hold-timers.cjs';

/** The bundle and its cache, beside this loader (images/bundler.ts writes them under these names). */
const PROGRAM_FILE = 'program.cjs';
const CACHE_FILE = 'program.cache';
/** Read by lib/code-cache-state.ts. */
const CODE_CACHE_STATE = Symbol.for('contrast.codeCache');
const CODE_CACHE_CHECKPOINT = Symbol.for('contrast.codeCache.checkpoint');

type CodeCacheState = 'accepted' | 'rejected' | 'absent';

const MAGIC = Buffer.from('CCC1', 'latin1');
const HEADER = MAGIC.length + 32;

function frame(payload: Buffer): Buffer {
  return Buffer.concat([MAGIC, createHash('sha256').update(payload).digest(), payload]);
}

/** The V8 cache inside a framed file, or undefined when the frame or digest does not match. */
function unframe(file: Buffer): Buffer | undefined {
  if (file.length <= HEADER || !file.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const payload = file.subarray(HEADER);
  return createHash('sha256').update(payload).digest().equals(file.subarray(MAGIC.length, HEADER))
    ? payload
    : undefined;
}

type ModuleFunction = (
  exports: unknown,
  require: NodeJS.Require,
  module: Module,
  filename: string,
  dirname: string,
) => void;

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined; // no cache: compile from source
  }
}

/**
 * Training only: V8's precise coverage mode, which keeps functions from tiering up (Sparkplug,
 * TurboFan). Otherwise a hot function's tier-up, which depends on timing, leaves a bit in its entry
 * of the cache, and two builds can differ in that bit. The mode does not change the V8 flags, so the
 * cache stays valid for ordinary runs.
 */
function holdTiering(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- only a training run loads the inspector
  const { Session } = require('node:inspector') as typeof import('node:inspector');
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
}

/** A training run's environment variable, or undefined when unset or empty. */
function trainingVariable(name: string): string | undefined {
  const v = process.env[name];
  return v !== undefined && v !== '' ? v : undefined;
}

function load(dir: string): void {
  const file = join(dir, PROGRAM_FILE);
  const training = trainingVariable('CONTRAST_CODE_CACHE_OUT');
  const cacheIn = training === undefined ? join(dir, CACHE_FILE) : trainingVariable('CONTRAST_CODE_CACHE_IN');
  const framed = cacheIn === undefined ? undefined : readCache(cacheIn);
  const cachedData = framed === undefined ? undefined : unframe(framed);
  // The training run's flags (see flags.cts): without them V8 would reject the cache.
  for (const flag of CODE_CACHE_V8_FLAGS) setFlagsFromString(flag);
  // esbuild writes the bundle as ASCII: latin1 is the cheapest exact decoding (one-byte V8 string).
  // The bundler wrote it as `(function (exports, require, module, __filename, __dirname) {...})`.
  const source = readFileSync(file, 'latin1');
  let releaseTimers: (() => void) | undefined;
  if (training !== undefined) {
    holdTiering();
    const holdMs = trainingVariable('CONTRAST_CODE_CACHE_HOLD_MS');
    const minDelayMs = holdMs === undefined ? HOLD_MIN_DELAY_MS : Number(holdMs);
    if (!(minDelayMs >= 0))
      throw new Error(`code-cache training: CONTRAST_CODE_CACHE_HOLD_MS=${holdMs}: expected a number of milliseconds`);
    releaseTimers = holdTimers(minDelayMs);
  }
  const script = new Script(source, {
    // The cache records the script's name, which stack traces then show: a training run uses the
    // file's path in the image, not the directory the bundler trained in (reproducible images).
    filename: training === undefined ? file : (process.env['CONTRAST_CODE_CACHE_NAME'] ?? file),
    ...(cachedData === undefined ? {} : { cachedData }),
  });
  const state: CodeCacheState =
    framed === undefined
      ? 'absent'
      : cachedData === undefined || script.cachedDataRejected === true
        ? 'rejected'
        : 'accepted';
  (globalThis as Record<symbol, unknown>)[CODE_CACHE_STATE] = state;
  if (training !== undefined && cacheIn !== undefined && state !== 'accepted') {
    // The trainer's second pass must start from its first pass's cache, else its runs are not alike.
    throw new Error(
      `code-cache training: the cache to start from, ${cacheIn}, is ${state === 'absent' ? 'missing' : 'rejected by V8'}`,
    );
  }
  if (training !== undefined) {
    // At the program's checkpoint (its start-up path done), else at exit; whichever comes first.
    let written = false;
    const write = (): void => {
      if (written) return;
      written = true;
      writeFileSync(training, frame(script.createCachedData()));
      // The cache is taken: timers held so far may run now.
      releaseTimers?.();
    };
    (globalThis as Record<symbol, unknown>)[CODE_CACHE_CHECKPOINT] = write;
    process.once('exit', write);
  }
  const mod = new Module(file);
  mod.filename = file;
  const run = script.runInThisContext() as ModuleFunction;
  run(mod.exports, Module.createRequire(file), mod, file, dir);
}

load(__dirname);
