/**
 * Licence texts for everything an image carries:
 * - the npm packages esbuild put into a program's bundle: `THIRD-PARTY-LICENSES.txt` beside the
 *   bundle (written by the bundler from esbuild's metafile: name, version, declared licence and
 *   every LICENSE/LICENCE/COPYING/NOTICE file of the package);
 * - every file copied from this machine (Node, glibc, libstdc++, iptables, busybox, bash, socat and
 *   their libraries): the Debian package that owns it (`dpkg-query -S`) brings its
 *   `/usr/share/doc/<package>/copyright` to the same path in the image; a file no package owns (a
 *   Node binary from an official tarball) needs a `LICENSE` in its installation prefix;
 * - our own code and the addon: the suite's LICENSE (Apache-2.0).
 * `/usr/share/doc/contrast/THIRD-PARTY.txt` lists each component with where its licence text is.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { HostFileError } from './errors.js';

export const BUNDLE_LICENCES_FILE = 'THIRD-PARTY-LICENSES.txt';
export const LICENCE_INDEX = 'usr/share/doc/contrast/THIRD-PARTY.txt';
export const OWN_LICENCE = 'usr/share/doc/contrast/LICENSE';

const LICENCE_NAME = /^(licen[cs]e|copying|notice)(\.|-|$)/i;

/** The npm packages among esbuild's metafile inputs: package directory (relative to root) per name. */
export function npmPackagesOf(inputs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const input of inputs) {
    const m = /^(.*node_modules\/)((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m === null) continue;
    const name = m[2] ?? '';
    const dir = `${m[1] ?? ''}${name}`;
    if (!out.has(name)) out.set(name, dir);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The THIRD-PARTY-LICENSES.txt text for a bundle; a package without any licence file is an error. */
export function bundleLicenceText(root: string, packages: ReadonlyMap<string, string>): string {
  const parts = ['Third-party npm packages in this bundle, with their licence texts.\n'];
  for (const [name, dir] of packages) {
    const abs = posix.join(root, dir);
    const pkg = JSON.parse(readFileSync(posix.join(abs, 'package.json'), 'utf8')) as {
      version?: string;
      license?: unknown;
    };
    const files = readdirSync(abs)
      .filter((f) => LICENCE_NAME.test(f) && statSync(posix.join(abs, f)).isFile())
      .sort();
    if (files.length === 0)
      throw new HostFileError(
        `npm package ${name} (${dir}) has no LICENSE/LICENCE/COPYING file: expected a licence text to ship in the image`,
      );
    parts.push(
      `\n==== ${name} ${pkg.version ?? '?'} (${typeof pkg.license === 'string' ? pkg.license : 'see text'}) ====\n`,
    );
    for (const f of files)
      parts.push(`---- ${f} ----\n${readFileSync(posix.join(abs, f), 'utf8').replace(/\r\n/g, '\n').trimEnd()}\n`);
  }
  return parts.join('');
}

export interface DebianOwner {
  readonly pkg: string;
  readonly version: string;
  /** Host path of the package's copyright file. */
  readonly copyright: string;
}

/**
 * The Debian package owning each absolute path (dpkg registers some files under `/lib`, `/bin`,
 * others under `/usr/...`: both spellings are asked). Paths no package owns map to undefined.
 */
export function debianOwners(paths: readonly string[]): Map<string, DebianOwner | undefined> {
  const variants = new Map<string, string>();
  for (const p of paths) {
    variants.set(p, p);
    if (p.startsWith('/usr/')) variants.set(p.slice(4), p);
    else variants.set(`/usr${p}`, p);
  }
  let out = '';
  try {
    out = execFileSync('dpkg-query', ['-S', ...variants.keys()], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 1 << 24,
    });
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? ''; // exit 1 when some path is not owned
  }
  const owners = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^([^:,\s]+)(?::[^:\s]+)?(?:, [^:]+)*: (\/.*)$/.exec(line);
    if (m === null) continue;
    const original = variants.get(m[2] ?? '');
    if (original !== undefined && !owners.has(original)) owners.set(original, m[1] ?? '');
  }
  const versions = new Map<string, string>();
  const result = new Map<string, DebianOwner | undefined>();
  for (const p of paths) {
    const pkg = owners.get(p);
    if (pkg === undefined) {
      result.set(p, undefined);
      continue;
    }
    if (!versions.has(pkg))
      versions.set(pkg, execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' }).trim());
    const base = pkg.replace(/:.*$/, '');
    result.set(p, { pkg: base, version: versions.get(pkg) ?? '', copyright: `/usr/share/doc/${base}/copyright` });
  }
  return result;
}
