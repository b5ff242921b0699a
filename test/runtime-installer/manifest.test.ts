import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest, runtimeHandlerName, hostPathOf } from '../../lib/node-install/manifest.js';
import { parsePlatform, PLATFORMS } from '../../runtime-installer/platforms.js';
import { readTargetConfig, defaultKataConfigPath } from '../../runtime-installer/target-config.js';

const SHA256 = `sha256-${createHash('sha256').update('x').digest('base64')}`;
const SHA512 = `sha512-${createHash('sha512').update('x').digest('base64')}`;

const manifest = (files: unknown[], extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ files, ...extra }));

const valid: [string, unknown][] = [
  ['http with SRI', { url: 'https://cdn.example/a', path: '/opt/edgeless/@@runtimeName@@/a', integrity: SHA256 }],
  [
    'file without SRI',
    { url: 'file:///opt/edgeless/bin/x', path: '/opt/edgeless/@@runtimeName@@/bin/x', executable: true },
  ],
  ['file with sha512', { url: 'file:///x', path: '/x', integrity: SHA512 }],
  ['case-insensitive field names', { URL: 'file:///x', Path: '/x', Executable: true }],
  ['@@runtimeBase@@ path', { url: 'file:///x', path: '@@runtimeBase@@/x' }],
];
for (const [name, file] of valid) {
  test(`manifest accepts: ${name}`, (t) => {
    const m = parseManifest(manifest([file]), 'm.json');
    t.is(m.files.length, 1);
  });
}

const invalid: [string, unknown, RegExp][] = [
  ['missing url', { path: '/x' }, /url: expected a non-empty URL/],
  ['missing path', { url: 'file:///x' }, /path: expected a non-empty absolute path/],
  ['relative path', { url: 'file:///x', path: 'opt/x' }, /expected an absolute path/],
  ['path with ..', { url: 'file:///x', path: '/opt/../etc/x' }, /without '\.\.'/],
  ['http without SRI', { url: 'http://cdn.example/a', path: '/x' }, /integrity: required/],
  ['invalid URL', { url: '::not a url', path: '/x' }, /expected a valid URL/],
  ['ftp scheme', { url: 'ftp://host/x', path: '/x' }, /url scheme must be http, https, or file/],
  ['md5 SRI', { url: 'file:///x', path: '/x', integrity: 'md5-AAAA' }, /expected sha256-, sha384- or sha512-/],
  ['SRI shorter than its prefix', { url: 'file:///x', path: '/x', integrity: 'sha' }, /expected sha256-/],
  ['bad base64', { url: 'file:///x', path: '/x', integrity: 'sha256-!!!!' }, /standard base64/],
  ['wrong digest length', { url: 'file:///x', path: '/x', integrity: 'sha256-AAAA' }, /32-byte sha256/],
  ['executable not a boolean', { url: 'file:///x', path: '/x', executable: 'yes' }, /executable: expected a boolean/],
];
for (const [name, file, re] of invalid) {
  test(`manifest rejects: ${name}`, (t) => {
    const err = t.throws(() => parseManifest(manifest([file]), 'm.json'));
    t.is((err as { code?: string }).code, 'ERR_MANIFEST');
    t.regex(err.message, re);
    t.regex(err.message, /^m\.json: files\[0\]/);
  });
}

test('manifest rejects non-JSON and reports every problem at once', (t) => {
  t.is((t.throws(() => parseManifest(Buffer.from('{'), 'm.json')) as { code?: string }).code, 'ERR_MANIFEST');
  const err = t.throws(() =>
    parseManifest(manifest([{ url: 'ftp://x/y', path: 'rel' }, { path: '/x' }], { debugRuntime: 'no' }), 'm.json'),
  );
  t.regex(err.message, /files\[0\]\.url.*files\[0\]\.path.*files\[1\]\.url.*debugRuntime/s);
});

test('handler name: from the manifest, else platform + manifest hash (deterministic)', (t) => {
  const p = parsePlatform('metal-qemu-snp');
  const a = parseManifest(manifest([]), 'm');
  const name = runtimeHandlerName(a, p);
  t.regex(name, /^contrast-cc-metal-qemu-snp-[0-9a-f]{8}$/);
  t.is(runtimeHandlerName(parseManifest(manifest([]), 'm'), p), name);
  t.not(runtimeHandlerName(parseManifest(manifest([], { debugRuntime: true }), 'm'), p), name);
  t.is(runtimeHandlerName(parseManifest(manifest([], { runtimeHandlerName: 'my-runtime' }), 'm'), p), 'my-runtime');
  t.throws(() => parseManifest(manifest([], { runtimeHandlerName: 'Bad_Name' }), 'm'));
  const f = parseManifest(
    manifest([{ url: 'file:///x', path: '/opt/edgeless/@@runtimeName@@/bin/@@runtimeName@@' }]),
    'm',
  ).files[0]!;
  t.is(hostPathOf(f, 'h'), '/opt/edgeless/h/bin/h');
});

test('platforms: case-insensitive, unknown names rejected', (t) => {
  t.is(parsePlatform('METAL-qemu-tdx-GPU').name, 'Metal-QEMU-TDX-GPU');
  t.is(PLATFORMS.length, 9);
  t.is((t.throws(() => parsePlatform('Metal-QEMU-XYZ')) as { code?: string }).code, 'ERR_PLATFORM');
  t.regex(t.throws(() => parsePlatform(undefined)).message, /missing platform argument/);
});

function tmp(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), `ri-tc-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

test('target config: missing dir → platform defaults (legacy names map to k3s/rke2)', async (t) => {
  const dir = join(tmp(t), 'absent');
  const metal = await readTargetConfig(dir, parsePlatform('Metal-QEMU-SNP'));
  t.false(metal.found);
  t.deepEqual(metal.config, {
    containerdConfigPath: 'etc/containerd/config.toml',
    units: ['containerd.service'],
    restartUnit: true,
    kataConfigPath: undefined,
  });
  const k3s = await readTargetConfig(dir, parsePlatform('K3s-QEMU-TDX'));
  t.is(k3s.config.containerdConfigPath, 'var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl');
  t.deepEqual(k3s.config.units, ['k3s.service', 'k3s-agent.service']);
  const rke2 = await readTargetConfig(dir, parsePlatform('RKE2-QEMU-TDX'));
  t.deepEqual(rke2.config.units, ['rke2-server.service', 'rke2-agent.service']);
  t.is(defaultKataConfigPath(parsePlatform('Metal-QEMU-TDX'), 'h'), 'opt/edgeless/h/etc/configuration-qemu-tdx.toml');
});

test('target config: overrides through ConfigMap-style symlinks, unit lists split on comma/space/newline', async (t) => {
  const dir = tmp(t);
  mkdirSync(join(dir, '..data'));
  writeFileSync(join(dir, '..data', 'systemd-unit-name'), 'unit1, unit2 unit3\nunit4\n');
  symlinkSync('..data/systemd-unit-name', join(dir, 'systemd-unit-name'));
  writeFileSync(join(dir, 'containerd-config-path'), '/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl\n');
  writeFileSync(join(dir, 'restart-systemd-unit'), 'F');
  writeFileSync(join(dir, 'kata-config-path'), 'etc/kata/config.toml');
  const { config } = await readTargetConfig(dir, parsePlatform('Metal-QEMU-SNP'));
  t.deepEqual(config, {
    containerdConfigPath: 'var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl',
    units: ['unit1', 'unit2', 'unit3', 'unit4'],
    restartUnit: false,
    kataConfigPath: 'etc/kata/config.toml',
  });
});

const badTarget: [string, string, string, RegExp][] = [
  ['empty file', 'systemd-unit-name', '  \n', /systemd-unit-name cannot be empty/],
  ['unknown file', 'restart', 'true', /unexpected file restart/],
  ['bad boolean', 'restart-systemd-unit', 'nope', /expected a boolean/],
  ['escaping path', 'containerd-config-path', '../etc/x', /without '\.\.'/],
];
for (const [name, file, content, re] of badTarget) {
  test(`target config rejects: ${name}`, async (t) => {
    const dir = tmp(t);
    writeFileSync(join(dir, file), content);
    const err = await t.throwsAsync(readTargetConfig(dir, parsePlatform('Metal-QEMU-SNP')));
    t.is((err as { code?: string }).code, 'ERR_TARGET_CONFIG');
    t.regex(err.message, re);
  });
}
