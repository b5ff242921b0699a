/**
 * `npm run test:unit` and `npm run test:system` split the test files between them: every test file is
 * in exactly one suite, the list of system tests names only existing test files, and no unit test
 * (nor a test helper it imports) reaches for what needs root or a system service.
 */
import test from 'ava';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SYSTEM: readonly string[] = (
  JSON.parse(readFileSync(join(ROOT, 'test/system-tests.json'), 'utf8')) as { files: string[] }
).files;

/** What only a system test may use: namespaces, FUSE emulators, runc, containerd, a D-Bus daemon, loop devices, image builds. */
const SYSTEM_MARKERS: readonly [string, RegExp][] = [
  ['network namespace', /\bnetns\b|\bunshare\b/],
  ['FUSE emulator', /emulators\/harness|mountEmulators/],
  ['runc', /runInImage|['"]runc['"]/],
  ['containerd', /['"]containerd['"]\s*,\s*\[/],
  ['D-Bus daemon', /dbus-daemon/],
  ['loop device', /['"]losetup['"]/],
  ['bundle or image build', /bundlePrograms|buildImage|['"](umoci|skopeo)['"]/],
];

/** Source text without comments, so that a helper's doc naming `ip netns exec` is not taken for use. */
function code(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
}

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'fixtures' ? [] : testFiles(p);
    return name.endsWith('.test.ts') ? [relative(ROOT, p)] : [];
  });
}

/** The file and the test helpers (files under test/ that are not tests) it imports, transitively. */
function withHelpers(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(/from '(\.[^']+)\.js'/g)) {
    const target = relative(ROOT, resolve(ROOT, dirname(file), `${m[1]!}.ts`));
    if (target.startsWith('test/') && !target.endsWith('.test.ts') && existsSync(join(ROOT, target)))
      withHelpers(target, seen);
  }
  return seen;
}

test('the system list names existing test files, each once', (t) => {
  const all = new Set(testFiles(join(ROOT, 'test')));
  t.true(all.size > 50);
  t.deepEqual(
    SYSTEM.filter((f) => !all.has(f)),
    [],
  );
  t.is(new Set(SYSTEM).size, SYSTEM.length);
});

test('the suite configs: unit is every test file but the system list, system is the list', async (t) => {
  const load = async (name: string): Promise<{ files: string[] }> =>
    ((await import(pathToFileURL(join(ROOT, name)).href)) as { default: { files: string[] } }).default;
  const [base, unit, system] = await Promise.all([
    load('ava.config.js'),
    load('ava.unit.config.js'),
    load('ava.system.config.js'),
  ]);
  t.deepEqual(base.files, ['test/**/*.test.ts']);
  t.deepEqual(unit.files, [...base.files, ...SYSTEM.map((f) => `!${f}`)]);
  t.deepEqual(system.files, [...SYSTEM]);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  t.is(pkg.scripts['test'], 'npm run test:unit && npm run test:system');
  t.is(pkg.scripts['test:unit'], 'ava --config ava.unit.config.js');
  t.is(pkg.scripts['test:system'], 'ava --config ava.system.config.js');
});

test('no unit test needs root or a system service', (t) => {
  const system = new Set(SYSTEM);
  const offenders: string[] = [];
  for (const file of testFiles(join(ROOT, 'test')).filter((f) => !system.has(f) && f !== 'test/suites.test.ts')) {
    for (const used of withHelpers(file)) {
      const text = code(used);
      for (const [what, marker] of SYSTEM_MARKERS) if (marker.test(text)) offenders.push(`${file}: ${what} (${used})`);
    }
  }
  t.deepEqual(offenders, []);
});

test('every system test uses something only the system suite has', (t) => {
  // Keeps the system list from becoming a dumping ground for slow unit tests; kill tests and the
  // D-Bus stand-in are named here as system tests for their many processes and the daemon.
  const byNature = new Set([
    'test/initializer/kill9.test.ts',
    'test/runtime-installer/kill.test.ts',
    'test/dev/demo.test.ts',
  ]);
  const unmarked = SYSTEM.filter((f) => !byNature.has(f)).filter(
    (f) => ![...withHelpers(f)].some((used) => SYSTEM_MARKERS.some(([, m]) => m.test(code(used)))),
  );
  t.deepEqual(unmarked, []);
});
