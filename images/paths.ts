/** Where the repository and its build outputs are, for the image tooling run from source or from dist/. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whether this file runs as images/paths.ts (tsx) or dist/images/paths.js. */
export function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.endsWith(join('dist', 'images')) ? resolve(here, '..', '..') : resolve(here, '..');
}

/** Default output of `npm run bundle`. */
export function defaultBundleDir(root: string): string {
  return join(root, 'dist', 'bundle');
}

/** Default output of `npm run images`. */
export function defaultImagesDir(root: string): string {
  return join(root, 'dist', 'images-oci');
}
