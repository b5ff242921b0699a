/**
 * The images, built for real from this tree: twice with the same digests, accepted by skopeo, and
 * each one run under runc after `umoci unpack`. Targets whose program is not in the tree yet are
 * left out (images/build.ts reports them); the port-forwarder is always there.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundlePrograms } from '../../images/bundler.js';
import { buildImage, MAX_COMPRESSED_BYTES, newBuildCache, type BuiltImage } from '../../images/image-builder.js';
import { PROGRAMS } from '../../images/programs.js';
import { TARGETS, type ImageTarget } from '../../images/targets.js';
import { VERSION } from '../../port-forwarder/version.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const WORK = mkdtempSync(join(tmpdir(), `images-test-${process.pid}-`));
test.after.always(() => { rmSync(WORK, { recursive: true, force: true }); });

const present = TARGETS.filter((t) => {
  const program = PROGRAMS.find((p) => p.name === t.program);
  return program !== undefined && existsSync(join(ROOT, program.entry));
});

/** One complete build: bundle into its own directory, then every present target. */
async function buildAll(name: string): Promise<Map<string, BuiltImage>> {
  const bundleDir = join(WORK, name, 'bundle');
  const outDir = join(WORK, name, 'oci');
  await bundlePrograms({
    root: ROOT, outDir: bundleDir, requireAll: true,
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
    t.deepEqual(x.layers.map((l) => l.digest), y.layers.map((l) => l.digest), target.name);
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
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${dir}:${target.name}`], { encoding: 'utf8' })) as { Digest: string; Os: string; Architecture: string; Layers: string[] };
    t.is(inspect.Digest, images.get(target.name)!.manifest.digest);
    t.is(inspect.Os, 'linux');
    t.is(inspect.Architecture, 'amd64');
    t.is(inspect.Layers.length, 2);
    const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${dir}:${target.name}`], { encoding: 'utf8' })) as { config: { Entrypoint: string[]; Env: string[] } };
    t.deepEqual(config.config.Entrypoint, [`/bin/${target.launchers[0]!}`]);
    for (const [k, v] of Object.entries(target.env)) t.true(config.config.Env.includes(`${k}=${v}`), `${target.name} ${k}`);
  }
});

/** Unpacks with umoci and runs the image's entry point with `args` under runc; returns the result. */
function runImage(t: import('ava').ExecutionContext, target: ImageTarget, dir: string, args: readonly string[], entry?: string): { status: number | null; stdout: string; stderr: string } {
  const id = `contrast-img-${target.name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const bundle = join(WORK, 'run', id);
  const state = join(WORK, 'runc-state');
  mkdirSync(join(WORK, 'run'), { recursive: true });
  mkdirSync(state, { recursive: true });
  t.teardown(() => {
    spawnSync('runc', ['--root', state, 'delete', '--force', id]);
    rmSync(bundle, { recursive: true, force: true });
  });
  execFileSync('umoci', ['unpack', '--image', `${dir}:${target.name}`, bundle], { stdio: 'ignore' });
  const configPath = join(bundle, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { process: { terminal: boolean; args: string[] } };
  config.process.terminal = false;
  config.process.args = [entry ?? `/bin/${target.launchers[0]!}`, ...args];
  writeFileSync(configPath, JSON.stringify(config));
  const r = spawnSync('runc', ['--root', state, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('every image runs --version under runc, through each of its launchers', async (t) => {
  const images = await first;
  for (const target of present) {
    for (const launcher of target.launchers) {
      const r = runImage(t, target, images.get(target.name)!.dir, ['--version'], `/bin/${launcher}`);
      t.is(r.status, 0, `${target.name} /bin/${launcher}: ${r.stderr}`);
      t.true((r.stdout + r.stderr).includes(VERSION), `${target.name} /bin/${launcher} reports version ${VERSION}: ${r.stdout}${r.stderr}`);
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
