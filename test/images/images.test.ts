/**
 * The images, built for real from this tree: twice with the same digests, accepted by skopeo, and
 * each one run under runc after `umoci unpack`. Targets whose program is not in the tree yet are
 * left out (images/build.ts reports them); the port-forwarder is always there.
 */
import test from 'ava';
import { runInImage, type RuncResult } from './runc.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePrograms } from '../../images/bundler.js';
import {
  buildImage,
  MAX_COMPRESSED_BYTES,
  newBuildCache,
  strippedCopy,
  type BuiltImage,
} from '../../images/image-builder.js';
import { pinnedNode } from '../../images/node-runtime.js';
import { PROGRAMS } from '../../lib/programs.js';
import { NODE_LICENSE_PATH, NODE_PATH, TARGETS, type ImageTarget } from '../../images/targets.js';
import { VERSION } from '../../lib/version.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const WORK = mkdtempSync(join(tmpdir(), `images-test-${process.pid}-`));
test.after.always(() => {
  rmSync(WORK, { recursive: true, force: true });
});

const present = TARGETS.filter((t) => {
  const program = PROGRAMS.find((p) => p.name === t.program);
  return program !== undefined && existsSync(join(ROOT, program.entry));
});

/** One complete build: bundle into its own directory, then every present target. */
async function buildAll(name: string): Promise<Map<string, BuiltImage>> {
  const bundleDir = join(WORK, name, 'bundle');
  const outDir = join(WORK, name, 'oci');
  await bundlePrograms({
    root: ROOT,
    outDir: bundleDir,
    requireAll: true,
    programs: PROGRAMS.filter((p) => present.some((t) => t.program === p.name)),
  });
  const cache = newBuildCache();
  const images = new Map<string, BuiltImage>();
  for (const target of present) {
    images.set(target.name, await buildImage(target, { bundleDir, outDir, version: VERSION, epoch: 0, cache }));
  }
  return images;
}

// Both builds are shared by the tests below; each build starts from nothing (own bundles, own cache).
const first = buildAll('first');
const second = first.then(() => buildAll('second'));

test('the port-forwarder target is among the images built', (t) => {
  t.true(present.some((x) => x.name === 'port-forwarder'));
});

test('two builds give the same manifest digest for every image', async (t) => {
  const [a, b] = await Promise.all([first, second]);
  for (const target of present) {
    const x = a.get(target.name)!;
    const y = b.get(target.name)!;
    t.is(x.manifest.digest, y.manifest.digest, target.name);
    t.deepEqual(
      x.layers.map((l) => l.digest),
      y.layers.map((l) => l.digest),
      target.name,
    );
    t.true(readFileSync(join(x.dir, 'index.json')).equals(readFileSync(join(y.dir, 'index.json'))), target.name);
  }
});

test('every image stays under the compressed size budget, and all share the node layer', async (t) => {
  const images = await first;
  const baseLayers = new Set([...images.values()].map((i) => i.layers[0]!.digest));
  t.is(baseLayers.size, 1);
  for (const image of images.values()) {
    t.true(image.compressedBytes < MAX_COMPRESSED_BYTES, `${image.target}: ${image.compressedBytes}`);
    t.log(`${image.target}: ${(image.compressedBytes / 1e6).toFixed(1)} MB compressed`);
  }
});

test('skopeo accepts every layout and reads the entry point and environment', async (t) => {
  const images = await first;
  for (const target of present) {
    const dir = images.get(target.name)!.dir;
    const inspect = JSON.parse(
      execFileSync('skopeo', ['inspect', `oci:${dir}:${target.name}`], { encoding: 'utf8' }),
    ) as { Digest: string; Os: string; Architecture: string; Layers: string[] };
    t.is(inspect.Digest, images.get(target.name)!.manifest.digest);
    t.is(inspect.Os, 'linux');
    t.is(inspect.Architecture, 'amd64');
    t.is(inspect.Layers.length, 2);
    const config = JSON.parse(
      execFileSync('skopeo', ['inspect', '--config', `oci:${dir}:${target.name}`], { encoding: 'utf8' }),
    ) as { config: { Entrypoint: string[]; Env: string[] } };
    t.deepEqual(config.config.Entrypoint, [`/bin/${target.launchers[0]!}`]);
    for (const [k, v] of Object.entries(target.env))
      t.true(config.config.Env.includes(`${k}=${v}`), `${target.name} ${k}`);
  }
});

/** Runs the image's entry point (or `entry`) with `args` under runc. */
function runImage(
  t: import('ava').ExecutionContext,
  target: ImageTarget,
  dir: string,
  args: readonly string[],
  entry?: string,
): RuncResult {
  return runInImage(t, {
    layout: dir,
    ref: target.name,
    work: WORK,
    argv: [entry ?? `/bin/${target.launchers[0]!}`, ...args],
  });
}

test('every image runs --version under runc, through each of its launchers', async (t) => {
  const images = await first;
  for (const target of present) {
    for (const launcher of target.launchers) {
      const r = runImage(t, target, images.get(target.name)!.dir, ['--version'], `/bin/${launcher}`);
      t.is(r.status, 0, `${target.name} /bin/${launcher}: ${r.stderr}`);
      t.true(
        (r.stdout + r.stderr).includes(VERSION),
        `${target.name} /bin/${launcher} reports version ${VERSION}: ${r.stdout}${r.stderr}`,
      );
    }
  }
});

test('the meshproxy image prints its configuration under runc', async (t) => {
  const images = await first;
  const mesh = present.find((x) => x.name === 'meshproxy');
  if (mesh === undefined) {
    // The meshproxy program has not landed in this tree: nothing to run yet.
    t.false(existsSync(join(ROOT, 'meshproxy/main.ts')));
    return;
  }
  const r = runImage(t, mesh, images.get('meshproxy')!.dir, ['--print-config']);
  t.is(r.status, 0, r.stderr);
  t.not(r.stdout.trim(), '');
});

test('every image carries the pinned Node binary (stripped) and its licence, and runs it as the pinned version', async (t) => {
  const images = await first;
  const node = pinnedNode(ROOT);
  const expected = strippedCopy(node.binary);
  const layer = images.values().next().value!;
  const blob = join(layer.dir, 'blobs', 'sha256', layer.layers[0]!.digest.slice('sha256:'.length));
  const out = join(WORK, 'node-layer');
  execFileSync('mkdir', ['-p', out]);
  execFileSync('tar', ['-xzf', blob, '-C', out, NODE_PATH.slice(1), NODE_LICENSE_PATH.slice(1)]);
  t.true(readFileSync(join(out, NODE_PATH)).equals(expected), `${NODE_PATH} is strip --strip-all of ${node.binary}`);
  t.true(readFileSync(join(out, NODE_LICENSE_PATH)).equals(readFileSync(node.license)), NODE_LICENSE_PATH);
  t.is(process.version, `v${node.version}`, 'the tests run on the pinned Node too');
  for (const target of present) {
    const r = runImage(
      t,
      target,
      images.get(target.name)!.dir,
      ['-p', 'process.version + " " + process.versions.openssl'],
      NODE_PATH,
    );
    t.is(r.status, 0, `${target.name}: ${r.stderr}`);
    t.is(r.stdout.trim().split(' ')[0], `v${node.version}`, target.name);
    t.is(r.stdout.trim().split(' ')[1], process.versions.openssl, target.name);
  }
});
