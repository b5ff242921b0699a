/** The package version, read once from package.json next to the source or the compiled tree. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8')) as { version?: unknown; name?: unknown };
      if (typeof pkg.version === 'string' && pkg.name === 'contrast-guest-ts') return pkg.version;
    } catch {
      // try the next location
    }
  }
  return '0.0.0';
}
