/**
 * V8 accepts a code cache only under the V8 flags it was made with, and the cache's bytes depend on
 * the process's string hash seed, which is random per process. The bundler's training run therefore
 * starts Node with this fixed seed (so that two builds give the same cache, and the same image), and
 * the loader sets the same flag value before it compiles, so that the flag hashes agree. Set after
 * start-up, the flag does not change the running process's own random seed; only isolates created
 * later (worker threads, which the initializer does not start) would take it.
 */
export const TRAINING_HASH_SEED_FLAG = '--hash-seed=1129270868';

/**
 * The flags the program runs under from its bundle. The loader sets them (v8.setFlagsFromString)
 * before it compiles, in the training run as in the image, and only the seed is also on the training
 * run's command line: V8's flag hash must agree for the cache, and on Node 26 (V8 14.6) the same
 * flags hash differently when given on the command line (`--no-regexp-tier-up` there made every
 * cache rejected):
 * - the seed, above;
 * - no bytecode flushing, so that what the garbage collector's timing would drop does not vary the
 *   cache (a short-lived program loses nothing by keeping its bytecode);
 * - no regexp tier-up: V8 otherwise interprets a regular expression's bytecode first and compiles it
 *   to machine code on its second use. For Node's IPv6 address pattern, which grpc-js runs on every
 *   address, interpreting costs ~4 ms on the first call; compiled at once, ~1.5 ms;
 * - no Sparkplug (V8's baseline compiler): on Node 26 (V8 14.6) a function that Sparkplug compiled
 *   during the training run leaves a flag bit in its cache entry even under precise coverage, so two
 *   runs differed in one byte in 1 of 3 runs (measured: 20 runs, 2 distinct caches; with the flag, 1).
 *   A short-lived program's start-up path runs in the interpreter anyway; Maglev and TurboFan remain.
 */
export const CODE_CACHE_V8_FLAGS: readonly string[] = [
  TRAINING_HASH_SEED_FLAG,
  '--no-flush-bytecode',
  '--no-regexp-tier-up',
  '--no-sparkplug',
];
