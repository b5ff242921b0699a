/**
 * One pinned Node (images/node-runtime.ts): the version package.json pins is the one package-lock.json
 * locks by integrity, `engines` names, @types/node follows, the Dockerfile's build stage starts from,
 * the addon was compiled against, and the one running these tests. The images carry the same binary
 * (test/images/images.test.ts).
 */
import test from 'ava';
import { readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_PACKAGE, pinnedNode } from '../../images/node-runtime.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines: Record<string, string>;
  devEngines: { runtime: { name: string; version: string } };
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<
    string,
    { version?: string; integrity?: string; devDependencies?: Record<string, string>; engines?: Record<string, string> }
  >;
};
const node = pinnedNode(ROOT);

test('package.json pins an exact Node, package-lock.json locks it by integrity, engines names it', (t) => {
  t.regex(node.version, /^\d+\.\d+\.\d+$/);
  const locked = lock.packages[`node_modules/${NODE_PACKAGE}`];
  t.is(locked?.version, node.version);
  t.regex(locked?.integrity ?? '', /^sha512-[A-Za-z0-9+/]{86}==$/);
  t.is(lock.packages['']?.devDependencies?.[NODE_PACKAGE], node.version);
  t.deepEqual(pkg.engines, { node: node.version });
  t.deepEqual(lock.packages['']?.engines, { node: node.version });
  // The Node that starts npm only bootstraps the pinned one.
  t.is(pkg.devEngines.runtime.name, 'node');
});

test('@types/node follows the pinned major', (t) => {
  t.is(pkg.devDependencies['@types/node']?.split('.')[0], node.version.split('.')[0]);
});

test('the tests run on the pinned Node binary', (t) => {
  t.is(process.version, `v${node.version}`);
  t.is(realpathSync(process.execPath), realpathSync(node.binary));
  // OpenSSL 3.5: post-quantum hybrid key exchange, the TLS groups the mesh negotiates.
  t.regex(process.versions.openssl, /^3\.(5|[6-9])\.\d+/);
});

test("the addon was compiled against the pinned Node's headers", (t) => {
  const config = readFileSync(join(ROOT, 'native/build/config.gypi'), 'utf8');
  const nodedir = /"nodedir": "([^"]+)"/.exec(config)?.[1];
  t.is(nodedir === undefined ? undefined : realpathSync(nodedir), realpathSync(node.dir));
  const makefile = readFileSync(join(ROOT, 'native/build/contrast_native.target.mk'), 'utf8');
  t.true(makefile.includes(`-I${join(nodedir ?? '', 'include/node')}`));
  t.false(/-I\/usr\/include\/node\b/.test(makefile), "no include of another Node's headers");
});

test("the Dockerfile's build stage starts from the pinned Node and bundles with it", (t) => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const from = /^FROM\s+(\S+)\s+AS\s+build$/m.exec(dockerfile)?.[1] ?? '';
  t.is(from.split('@')[0], `node:${node.version}-bookworm`);
});
