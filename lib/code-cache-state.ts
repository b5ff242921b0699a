/**
 * How a program's code was loaded when it runs from a code-cached bundle: the bundle's loader
 * (images/code-cache/loader.cts) leaves `accepted`, `rejected` (another Node binary or V8 flags than
 * the bundle's training run: compiled from source, slower start) or `absent`. Undefined when the
 * program runs otherwise (dist/, tsx, an ES module bundle). For start-up log lines.
 */
const CODE_CACHE_STATE = Symbol.for('contrast.codeCache');

export type CodeCacheState = 'accepted' | 'rejected' | 'absent';

export function codeCacheState(): CodeCacheState | undefined {
  const v = (globalThis as Record<symbol, unknown>)[CODE_CACHE_STATE];
  return v === 'accepted' || v === 'rejected' || v === 'absent' ? v : undefined;
}
