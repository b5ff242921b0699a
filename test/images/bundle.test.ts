import test from 'ava';
import { BUNDLE_LICENCES_FILE } from '../../images/licences.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODE_CACHE_BUNDLE, CODE_CACHE_FILE, bundlePrograms } from '../../images/bundler.js';
import { ADDON_FILE, PROGRAMS, bundleEntry, type Program } from '../../lib/programs.js';
import { VERSION } from '../../lib/version.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function tmp(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), `bundle-test-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const probe = {
  name: 'port-forwarder',
  entry: 'test/images/fixtures/addon-probe.ts',
  bin: 'probe',
  assets: [],
  layout: 'esm-split',
} as unknown as Program;
const BUNDLE_ENTRY = bundleEntry(probe);

test('a bundle loads the addon copied beside it and keeps class names', async (t) => {
  const out = tmp(t);
  const report = await bundlePrograms({ root: ROOT, outDir: out, programs: [probe] });
  t.is(report.outcomes[0]?.status, 'built');
  const dir = join(out, 'port-forwarder');
  t.true(existsSync(join(dir, ADDON_FILE)));
  // Run from another directory with a clean environment: only the bundle directory is needed.
  const r = spawnSync(process.execPath, [join(dir, BUNDLE_ENTRY)], {
    cwd: '/',
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] },
  });
  t.is(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { found: string; addonType: string; errorName: string };
  t.is(got.found, join(dir, ADDON_FILE));
  t.is(got.addonType, 'object');
  t.is(got.errorName, 'ConfigError');
});

test('every program in the tree bundles, runs --version from the bundle, and missing ones are reported', async (t) => {
  // Where npm run bundle puts them (dist/<dir>); the version is inlined from lib/version.ts.
  const out = join(ROOT, 'dist', `bundle-test-${process.pid}`);
  t.teardown(() => {
    rmSync(out, { recursive: true, force: true });
  });
  const report = await bundlePrograms({ root: ROOT, outDir: out });
  t.is(report.outcomes.length, PROGRAMS.length);
  for (const o of report.outcomes) {
    const program = PROGRAMS.find((p) => p.name === o.program)!;
    if (!existsSync(join(ROOT, program.entry))) {
      t.is(o.status, 'missing', o.program);
      continue;
    }
    t.is(o.status, 'built', o.program);
    if (o.status !== 'built') continue;
    t.is(o.outfile, join(out, o.program, bundleEntry(program)));
    if (program.layout === 'esm-split') {
      t.deepEqual(
        readdirSync(o.dir).filter((f) => !/^(main|chunk-[A-Z0-9]+)\.mjs$/.test(f)),
        [ADDON_FILE, BUNDLE_LICENCES_FILE].sort(),
        `${o.program}: only the entry, chunks, the addon and the npm licences`,
      );
    } else {
      t.deepEqual(
        readdirSync(o.dir).sort(),
        [ADDON_FILE, BUNDLE_LICENCES_FILE, 'main.cjs', CODE_CACHE_FILE, CODE_CACHE_BUNDLE].sort(),
        `${o.program}: loader, bundle, code cache, addon, npm licences`,
      );
      t.true((o.codeCacheBytes ?? 0) > 100_000, `${o.program}: a trained code cache (${o.codeCacheBytes} bytes)`);
    }
    const r = spawnSync(process.execPath, [o.outfile, '--version'], {
      cwd: '/',
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] },
    });
    t.is(r.status, 0, `${o.program}: ${r.stderr}`);
    t.true((r.stdout + r.stderr).includes(VERSION), `${o.program} reports version ${VERSION}: ${r.stdout}${r.stderr}`);
  }
  t.true(report.outcomes.some((o) => o.status === 'built'));
});

test('bundling is deterministic: two runs give identical files, without checkout paths', async (t) => {
  const a = tmp(t);
  const b = tmp(t);
  // The meshproxy: split into chunks whose names carry content hashes. The initializer: one CommonJS
  // file and the V8 code cache of a training run, which must come out the same too.
  const programs = ['meshproxy', 'initializer']
    .map((n) => PROGRAMS.find((p) => p.name === n)!)
    .filter((p) => existsSync(join(ROOT, p.entry)));
  programs.unshift(probe);
  await bundlePrograms({ root: ROOT, outDir: a, programs });
  await bundlePrograms({ root: ROOT, outDir: b, programs });
  for (const p of programs) {
    const files = readdirSync(join(a, p.name)).sort();
    t.deepEqual(readdirSync(join(b, p.name)).sort(), files, p.name);
    for (const f of files) {
      const x = readFileSync(join(a, p.name, f));
      t.true(x.equals(readFileSync(join(b, p.name, f))), `${p.name}/${f}`);
      if (/\.[mc]js$/.test(f))
        t.false(x.toString('utf8').includes(ROOT), `no absolute checkout paths in ${p.name}/${f}`);
    }
  }
  if (programs.some((p) => p.name === 'meshproxy'))
    t.true(
      readdirSync(join(a, 'meshproxy')).some((f) => f.startsWith('chunk-')),
      'split into chunks',
    );
});

test('a program directory holds one build only: stale chunks are removed', async (t) => {
  const out = tmp(t);
  mkdirSync(join(out, 'port-forwarder'));
  writeFileSync(join(out, 'port-forwarder', 'chunk-STALE.mjs'), 'old');
  await bundlePrograms({ root: ROOT, outDir: out, programs: [probe] });
  t.false(existsSync(join(out, 'port-forwarder', 'chunk-STALE.mjs')));
  t.true(existsSync(join(out, 'port-forwarder', BUNDLE_ENTRY)));
});

test('no program source uses what would load @grpc/proto-loader, which the bundles leave out', (t) => {
  // grpc-js requires it only for channelz admin services and ORCA load reports; neither is enabled.
  const sources = ['lib', 'initializer', 'meshproxy', 'runtime-installer', 'dev', 'port-forwarder'].map((d) =>
    join(ROOT, d),
  );
  const r = spawnSync(
    'grep',
    [
      '-rlE',
      '--include=*.ts',
      'proto-loader|addAdminServicesToServer|ServerMetricRecorder|server_call_metric_recording|weighted_round_robin',
      ...sources.filter((d) => existsSync(d)),
    ],
    { encoding: 'utf8' },
  );
  t.is(r.status, 1, `grep found nothing (status 1): ${r.stderr}`);
  t.is(r.stdout, '', 'no program source uses what would load @grpc/proto-loader');
});

test('a missing entry point: reported by default, an error with requireAll', async (t) => {
  const ghost = { name: 'meshproxy', entry: 'nowhere/main.ts', bin: 'x', assets: [] } as unknown as Program;
  const report = await bundlePrograms({ root: ROOT, outDir: tmp(t), programs: [ghost] });
  t.deepEqual(report.outcomes, [{ program: 'meshproxy', status: 'missing', entry: 'nowhere/main.ts' }]);
  const err = await t.throwsAsync(bundlePrograms({ root: ROOT, outDir: tmp(t), programs: [ghost], requireAll: true }));
  t.is((err as { code?: string }).code, 'ERR_PROGRAM_MISSING');
});

test('a missing addon is an error naming the build step', async (t) => {
  const err = await t.throwsAsync(
    bundlePrograms({ root: ROOT, outDir: tmp(t), programs: [probe], addon: '/nonexistent/contrast_native.node' }),
  );
  t.is((err as { code?: string }).code, 'ERR_ADDON_MISSING');
  t.regex(err.message, /npm run build:native/);
});

test('npm run bundle reports missing programs and exits 0; naming a missing one exits 1', (t) => {
  const out = tmp(t);
  const run = (args: string[]): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, ['--import=tsx', join(ROOT, 'images/bundle.ts'), '--out', out, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
    });
  const all = run([]);
  t.is(all.status, 0, String(all.stderr));
  for (const p of PROGRAMS) {
    t.regex(String(all.stdout), new RegExp(`^(built|missing) +${p.name} `, 'm'));
    t.is(String(all.stdout).includes(`missing  ${p.name}`), !existsSync(join(ROOT, p.entry)), p.name);
  }
  const missing = PROGRAMS.find((p) => !existsSync(join(ROOT, p.entry)));
  if (missing !== undefined) {
    const one = run([missing.name]);
    t.is(one.status, 1);
    t.regex(String(one.stderr), /entry point missing/);
  }
  const unknown = run(['no-such-program']);
  t.is(unknown.status, 1);
  t.regex(String(unknown.stderr), /unknown program no-such-program/);
});
