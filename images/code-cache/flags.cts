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
 * With the seed: no bytecode flushing, so that what the garbage collector's timing would drop does
 * not vary the cache. The loader sets these too (only the flag hash has to agree; a short-lived
 * program loses nothing by keeping its bytecode).
 */
export const TRAINING_FLAGS: readonly string[] = [TRAINING_HASH_SEED_FLAG, '--no-flush-bytecode'];
