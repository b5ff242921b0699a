/** The files of a code-cached bundle directory besides the loader `main.cjs` (loader.cts reads them under these names). */
export const CODE_CACHE_BUNDLE = 'program.cjs';
export const CODE_CACHE_FILE = 'program.cache';
