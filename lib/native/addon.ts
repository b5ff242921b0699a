/**
 * Loads the compiled addon once per caller. CONTRAST_NATIVE_ADDON names the one file to load (no
 * fallback: an explicit path that does not exist is an error); otherwise the addon is looked for next to
 * the program (bundles, images) and in the build tree.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContrastError } from '../errors.js';

const FILE = 'contrast_native.node';

/** Candidate locations: override, next to a bundle, the source tree, and the compiled tree. */
export function addonCandidates(
  env: NodeJS.ProcessEnv = process.env,
  here: string = dirname(fileURLToPath(import.meta.url)),
): string[] {
  const out: string[] = [];
  const override = env['CONTRAST_NATIVE_ADDON'];
  if (override !== undefined && override !== '') return [override];
  out.push(join(here, FILE));
  out.push(join(here, 'build', 'Release', FILE));
  out.push(join(here, '..', '..', 'native', 'build', 'Release', FILE)); // lib/native/ in the source tree
  out.push(join(here, '..', '..', '..', 'native', 'build', 'Release', FILE)); // dist/lib/native/
  return [...new Set(out)];
}

export class AddonNotFoundError extends ContrastError {
  readonly code = 'ERR_NATIVE_ADDON_NOT_FOUND';
}

/** Loads the raw addon. Typed faces live in lib/native/tee.ts, sockets.ts, tls.ts. */
export function loadAddon<T>(env: NodeJS.ProcessEnv = process.env): T {
  const require = createRequire(import.meta.url);
  const candidates = addonCandidates(env);
  for (const path of candidates) {
    if (existsSync(path)) return require(path) as T;
  }
  throw new AddonNotFoundError(
    `native addon ${FILE} not found (looked in ${candidates.join(', ')}); run npm run build:native or set CONTRAST_NATIVE_ADDON`,
  );
}
