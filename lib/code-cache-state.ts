/**
 * How a program's code was loaded when it runs from a code-cached bundle: the bundle's loader
 * (images/code-cache/loader.cts) leaves `accepted`, `rejected` (another Node binary or V8 flags than
 * the bundle's training run: compiled from source, slower start) or `absent`. Undefined when the
 * program runs otherwise (dist/, tsx, an ES module bundle). For start-up log lines.
 *
 * codeCacheCheckpoint(): in the bundler's training run, the loader takes the cache when the program
 * says its start-up path is complete (not at exit, where how the peer's connection close races the
 * exit would vary what is compiled, and so the cache's bytes). A no-op otherwise.
 */
const CODE_CACHE_STATE = Symbol.for('contrast.codeCache');
const CODE_CACHE_CHECKPOINT = Symbol.for('contrast.codeCache.checkpoint');

export type CodeCacheState = 'accepted' | 'rejected' | 'absent';

export function codeCacheState(): CodeCacheState | undefined {
  const v = (globalThis as Record<symbol, unknown>)[CODE_CACHE_STATE];
  return v === 'accepted' || v === 'rejected' || v === 'absent' ? v : undefined;
}

export function codeCacheCheckpoint(): void {
  const checkpoint = (globalThis as Record<symbol, unknown>)[CODE_CACHE_CHECKPOINT];
  if (typeof checkpoint === 'function') (checkpoint as () => void)();
}
