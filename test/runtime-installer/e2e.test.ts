/**
 * The installer program end to end on a fake node: a real containerd started on the config it wrote
 * answers CRI Status with our handler, restarts go over a private D-Bus to a systemd stand-in,
 * re-runs are no-ops, uninstall restores the original, bad inputs change nothing.
 */
import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { canonical, getPath } from '../../runtime-installer/containerd-edit.js';
import { containerdConfigDump, criRuntimes, criStatus, startContainerd } from './helpers/cri.js';
import { startPrivateBus, SystemdStandIn } from './helpers/dbus.js';
import { createFakeNode, fixture, runInstaller, shippedManifest, snapshotTree, type FakeNode } from './helpers/host.js';

const HANDLER = 'contrast-cc-metal-qemu-snp-e2e00001';

function node(t: ExecutionContext, ...args: Parameters<typeof createFakeNode>): FakeNode {
  const n = createFakeNode(...args);
  t.teardown(() => {
    n.cleanup();
  });
  return n;
}

async function bus(t: ExecutionContext, units: string[]) {
  const b = await startPrivateBus();
  t.teardown(() => b.stop());
  const standIn = await SystemdStandIn.start(
    b.address,
    Object.fromEntries(
      units.map((u) => [
        u,
        { activeState: 'active', activeEnterTimestampUs: 1_000_000n, restartResult: 'done' as const },
      ]),
    ),
  );
  t.teardown(() => {
    standIn.close();
  });
  return { address: b.address, standIn };
}

/** Starts containerd on `config` and returns the CRI runtimes it reports. */
async function runtimesOf(t: ExecutionContext, config: string): Promise<Record<string, Record<string, unknown>>> {
  await containerdConfigDump(config);
  const text = readFileSync(config, 'utf8');
  const socket = String(getPath(parse(text), ['grpc', 'address']));
  let log = '';
  const ctd = startContainerd(config, (c) => {
    log += c.toString();
  });
  t.teardown(() => ctd.stop());
  try {
    return criRuntimes(await criStatus(socket));
  } catch (err) {
    t.log(log.slice(-4000));
    throw err;
  } finally {
    await ctd.stop();
  }
}

function errorLines(r: { lines: Record<string, unknown>[] }) {
  return r.lines.filter((l) => l['level'] === 'ERROR');
}

test('v2 config with comments: real containerd reports our runtime; restart once; re-run is a no-op; uninstall restores', async (t) => {
  const n = node(t);
  const cfgPath = join(n.host, 'etc/containerd/config.toml');
  const original = readFileSync(cfgPath, 'utf8');
  // One artifact over http from a local server, with SRI.
  const blob = Buffer.from('http artifact\n'.repeat(1000));
  const server = createServer((_req, res) => {
    res.end(blob);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.close();
  });
  const manifest = shippedManifest(n, { integrity: true, handler: HANDLER }) as { files: unknown[] };
  manifest.files.push({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/kata-initrd.zst`,
    path: '/opt/edgeless/@@runtimeName@@/share/kata-initrd.zst',
    integrity: `sha384-${createHash('sha384').update(blob).digest('base64')}`,
  });
  n.writeManifest(manifest);
  const { address, standIn } = await bus(t, ['containerd.service']);
  const env = n.env({ DBUS_SYSTEM_BUS_ADDRESS: address });

  const r1 = await runInstaller(['metal-qemu-snp'], env);
  t.is(r1.code, 0, r1.stderr);
  t.true(r1.lines.some((l) => l['msg'] === 'Installation completed successfully.'));
  t.true(r1.lines.some((l) => l['msg'] === 'runtime handler' && l['handler'] === HANDLER));
  t.deepEqual(standIn.restarts(), ['containerd.service']);
  t.deepEqual(readFileSync(join(n.host, `opt/edgeless/${HANDLER}/share/kata-initrd.zst`)), blob);

  const written = readFileSync(cfgPath, 'utf8');
  // Diff against the original adds only our entry: removing our two tables gives the original back.
  t.true(
    written.includes(
      `\n        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${HANDLER}]\n          runtime_type = `,
    ),
    'indented like its sibling runtimes',
  );
  t.is(
    written.replace(
      /\n[ \t]*\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.contrast-cc-metal-qemu-snp-e2e00001\][\s\S]*?ConfigPath = "[^"]*"\n/,
      '',
    ),
    original,
  );
  const backups = readdirSync(join(n.host, 'etc/containerd')).filter((f) => f.endsWith('.bak'));
  t.is(backups.length, 1);
  t.is(readFileSync(join(n.host, 'etc/containerd', backups[0]!), 'utf8'), original);

  const runtimes = await runtimesOf(t, cfgPath);
  const rt = runtimes[HANDLER];
  t.truthy(rt, `runtimes: ${Object.keys(runtimes).join(', ')}`);
  t.is(rt?.['runtimeType'], 'io.containerd.contrast-cc.v2');
  t.is(rt?.['runtimePath'], `/opt/edgeless/${HANDLER}/bin/containerd-shim-contrast-cc-v2`);
  t.deepEqual(rt?.['options'], { ConfigPath: `/opt/edgeless/${HANDLER}/etc/configuration-qemu-snp.toml` });
  t.deepEqual(rt?.['PodAnnotations'], ['io.katacontainers.*']);
  t.is(rt?.['privileged_without_host_devices'], true);
  t.is(runtimes['runc']?.['runtimeType'], 'io.containerd.runc.v2');
  t.truthy(runtimes['contrast-cc-metal-qemu-snp-00000000']);
  t.true(existsSync(join(n.host, `opt/edgeless/${HANDLER}/etc/configuration-qemu-snp.toml`)));

  const before = snapshotTree(n.host);
  const r2 = await runInstaller(['Metal-QEMU-SNP'], env);
  t.is(r2.code, 0, r2.stderr);
  t.deepEqual(snapshotTree(n.host), before, 'second run changes nothing, no new backup');
  t.deepEqual(standIn.restarts(), ['containerd.service'], 'no second restart');

  const r3 = await runInstaller(['uninstall', 'Metal-QEMU-SNP'], env);
  t.is(r3.code, 0, r3.stderr);
  t.is(readFileSync(cfgPath, 'utf8'), original);
  t.false(existsSync(join(n.host, `opt/edgeless/${HANDLER}`)));
  t.deepEqual(standIn.restarts(), ['containerd.service', 'containerd.service']);
});

test('k3s template mode: template created from the rendered config; containerd on the template reports our runtime', async (t) => {
  const rendered = 'var/lib/rancher/k3s/agent/etc/containerd/config.toml';
  const n = node(t, 'k3s-rendered.toml', rendered);
  n.writeManifest(shippedManifest(n, { handler: 'contrast-cc-k3s-qemu-tdx-e2e00002' }));
  const { address, standIn } = await bus(t, ['k3s-agent.service']);
  const renderedBefore = readFileSync(join(n.host, rendered), 'utf8');
  const r = await runInstaller(['K3s-QEMU-TDX'], n.env({ DBUS_SYSTEM_BUS_ADDRESS: address }));
  t.is(r.code, 0, r.stderr);
  t.deepEqual(standIn.restarts(), ['k3s-agent.service']);
  t.is(readFileSync(join(n.host, rendered), 'utf8'), renderedBefore, 'the rendered config is k3s’s, untouched');
  const tmpl = join(n.host, `${rendered}.tmpl`);
  const text = readFileSync(tmpl, 'utf8');
  t.true(text.startsWith(renderedBefore.trimEnd()));
  t.deepEqual(
    readdirSync(join(n.host, 'var/lib/rancher/k3s/agent/etc/containerd')).filter((f) => f.endsWith('.bak')),
    [],
    'nothing to back up',
  );
  const rt = (await runtimesOf(t, tmpl))['contrast-cc-k3s-qemu-tdx-e2e00002'];
  t.is(rt?.['runtimeType'], 'io.containerd.contrast-cc.v2');
  t.deepEqual(rt?.['options'], {
    ConfigPath: '/opt/edgeless/contrast-cc-k3s-qemu-tdx-e2e00002/etc/configuration-qemu-tdx.toml',
  });
  // Re-run: the existing template is edited in place and stays byte-identical.
  const r2 = await runInstaller(['K3s-QEMU-TDX'], n.env({ DBUS_SYSTEM_BUS_ADDRESS: address }));
  t.is(r2.code, 0, r2.stderr);
  t.is(readFileSync(tmpl, 'utf8'), text);
  t.deepEqual(standIn.restarts(), ['k3s-agent.service']);
});

test('v3 config (containerd 2.x): entry under io.containerd.cri.v1.runtime, checked by semantics', async (t) => {
  // containerd 1.6 (Debian 12) does not implement config version 3, so only text and semantics are checked here.
  const n = node(t, 'containerd-v3.toml');
  n.writeManifest(shippedManifest(n, { handler: 'contrast-cc-metal-qemu-tdx-gpu-e2e3', debug: true }));
  mkdirSync(n.targetConfigDir);
  writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
  const r = await runInstaller(['Metal-QEMU-TDX-GPU'], n.env());
  t.is(r.code, 0, r.stderr);
  const cfgPath = join(n.host, 'etc/containerd/config.toml');
  const after = parse(readFileSync(cfgPath, 'utf8'));
  const expected = canonical(parse(fixture('containerd-v3.toml'))) as Record<string, Record<string, unknown>>;
  const runtimes = getPath(expected, ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes']) as Record<
    string,
    unknown
  >;
  runtimes['contrast-cc-metal-qemu-tdx-gpu-e2e3'] = {
    runtime_type: 'io.containerd.contrast-cc.v2',
    runtime_path: '/opt/edgeless/contrast-cc-metal-qemu-tdx-gpu-e2e3/bin/containerd-shim-contrast-cc-v2',
    pod_annotations: ['io.katacontainers.*', 'cdi.k8s.io/*'],
    privileged_without_host_devices: true,
    options: { ConfigPath: '/opt/edgeless/contrast-cc-metal-qemu-tdx-gpu-e2e3/etc/configuration-qemu-tdx.toml' },
  };
  expected['debug'] = { level: 'debug' };
  t.deepEqual(canonical(after), expected);
  t.true(readFileSync(cfgPath, 'utf8').startsWith(fixture('containerd-v3.toml').split('[custom_top_level]')[0]!));
  await t.notThrowsAsync(containerdConfigDump(cfgPath));
  t.true(r.lines.some((l) => l['msg'] === 'restart-systemd-unit is false, not restarting'));
});

interface BadCase {
  name: string;
  platform?: string;
  prepare: (n: FakeNode) => void;
  code: string;
  re: RegExp;
  exit?: number;
}

const badCases: BadCase[] = [
  {
    name: 'integrity mismatch',
    prepare: (n) => {
      const m = shippedManifest(n, { integrity: true }) as { files: { integrity: string }[] };
      m.files[3]!.integrity = `sha256-${createHash('sha256').update('tampered').digest('base64')}`;
      n.writeManifest(m);
    },
    code: 'ERR_INTEGRITY',
    re: /OVMF\.fd: content digest sha256-.* does not match integrity sha256-/,
  },
  {
    name: 'unreachable URL',
    prepare: (n) => {
      const m = shippedManifest(n, { integrity: true }) as { files: unknown[] };
      m.files.push({
        url: 'http://127.0.0.1:9/unreachable',
        path: '/opt/edgeless/@@runtimeName@@/x',
        integrity: `sha256-${createHash('sha256').update('x').digest('base64')}`,
      });
      n.writeManifest(m);
    },
    code: 'ERR_FETCH',
    re: /downloading http:\/\/127\.0\.0\.1:9\/unreachable \(attempt 2 of 2\): .*ECONNREFUSED/,
  },
  {
    name: 'relative path in the manifest',
    prepare: (n) => {
      const m = shippedManifest(n) as { files: { path: string }[] };
      m.files[1]!.path = 'opt/edgeless/x';
      n.writeManifest(m);
    },
    code: 'ERR_MANIFEST',
    re: /files\[1\]\.path=opt\/edgeless\/x: expected an absolute path/,
  },
  {
    name: 'bad scheme in the manifest',
    prepare: (n) => {
      const m = shippedManifest(n) as { files: { url: string }[] };
      m.files[0]!.url = 'ftp://example.com/x';
      n.writeManifest(m);
    },
    code: 'ERR_MANIFEST',
    re: /files\[0\]\.url=ftp:\/\/example\.com\/x: url scheme must be http, https, or file/,
  },
  {
    name: 'unknown platform',
    platform: 'Metal-QEMU-SEV',
    prepare: (n) => {
      n.writeManifest(shippedManifest(n));
    },
    code: 'ERR_PLATFORM',
    re: /unknown platform: Metal-QEMU-SEV: expected one of/,
  },
  {
    name: 'empty target-config file',
    prepare: (n) => {
      n.writeManifest(shippedManifest(n));
      mkdirSync(n.targetConfigDir);
      writeFileSync(join(n.targetConfigDir, 'systemd-unit-name'), '\n');
    },
    code: 'ERR_TARGET_CONFIG',
    re: /systemd-unit-name cannot be empty/,
  },
  {
    name: 'missing containerd config',
    prepare: (n) => {
      n.writeManifest(shippedManifest(n));
      mkdirSync(n.targetConfigDir);
      writeFileSync(join(n.targetConfigDir, 'containerd-config-path'), 'etc/containerd/absent.toml');
    },
    code: 'ERR_CONTAINERD_CONFIG',
    re: /absent\.toml does not exist/,
  },
  {
    // Valid TOML (a comment pads it to 50 MB), refused by size before it is read.
    name: 'containerd config above 1 MiB',
    prepare: (n) => {
      n.writeManifest(shippedManifest(n));
      const path = join(n.host, 'etc/containerd/config.toml');
      writeFileSync(path, `${readFileSync(path, 'utf8')}\n#${'x'.repeat(50 * 1024 * 1024)}\n`);
    },
    code: 'ERR_CONTAINERD_CONFIG',
    re: /config\.toml has 5\d{7} bytes: expected at most 1048576 bytes \(1 MiB\); it is not read/,
  },
  {
    name: 'invalid containerd config',
    prepare: (n) => {
      n.writeManifest(shippedManifest(n));
      writeFileSync(join(n.host, 'etc/containerd/config.toml'), 'version = 2\n[plugins\n');
    },
    code: 'ERR_CONTAINERD_CONFIG',
    re: /expected a valid TOML containerd config/,
  },
  { name: 'missing manifest', prepare: () => undefined, code: 'ERR_MANIFEST', re: /contrast-node-install\.json/ },
  {
    name: 'bad environment',
    prepare: (n) => {
      n.writeManifest(shippedManifest(n));
    },
    code: 'ERR_CONFIG',
    re: /CONTRAST_INSTALLER_FETCH_ATTEMPTS=0: expected an integer/,
    exit: 64,
  },
];

for (const c of badCases) {
  test(`bad input leaves the host unchanged: ${c.name}`, async (t) => {
    const n = node(t);
    c.prepare(n);
    const before = snapshotTree(n.dir);
    const env = n.env(c.name === 'bad environment' ? { CONTRAST_INSTALLER_FETCH_ATTEMPTS: '0' } : {});
    const r = await runInstaller([c.platform ?? 'Metal-QEMU-SNP'], env);
    t.is(r.code, c.exit ?? 1, r.stderr);
    const errors = errorLines(r);
    t.is(errors.length, 1, r.stderr);
    t.is(errors[0]?.['code'], c.code);
    t.regex(String(errors[0]?.['msg']), c.re);
    t.deepEqual(snapshotTree(n.dir), before);
  });
}

test('temporaries left by an interrupted run are removed by the next run', async (t) => {
  const n = node(t);
  n.writeManifest(shippedManifest(n, { handler: HANDLER }));
  mkdirSync(n.targetConfigDir);
  writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
  const etc = join(n.host, 'etc/containerd');
  const share = join(n.host, `opt/edgeless/${HANDLER}/share`);
  const kataEtc = join(n.host, `opt/edgeless/${HANDLER}/etc`);
  mkdirSync(share, { recursive: true });
  mkdirSync(kataEtc, { recursive: true });
  const stale = [
    join(etc, '.config.toml.tmp-0123456789ab'),
    join(etc, '.config.toml.1700000000.bak.tmp-0123456789ab'),
    join(share, '.kata-kernel.contrast-tmp-0123456789ab'),
    join(kataEtc, '.configuration-qemu-snp.toml.tmp-0123456789ab'),
  ];
  for (const p of stale) writeFileSync(p, 'partial');
  const r = await runInstaller(['Metal-QEMU-SNP'], n.env());
  t.is(r.code, 0, r.stderr);
  for (const p of stale) t.false(existsSync(p), p);
});

test('imagepuller config is copied to the runtime directory and referenced by the Kata config', async (t) => {
  const n = node(t);
  n.writeManifest(shippedManifest(n, { handler: HANDLER }));
  mkdirSync(n.targetConfigDir);
  writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
  mkdirSync(join(n.dir, 'imagepuller-config'));
  writeFileSync(join(n.dir, 'imagepuller-config/contrast-imagepuller.toml'), '[registries]\nexample = "x"\n');
  const r = await runInstaller(['Metal-QEMU-SNP'], n.env());
  t.is(r.code, 0, r.stderr);
  const hostPath = `/opt/edgeless/${HANDLER}/etc/host-config/contrast-imagepuller.toml`;
  t.is(readFileSync(join(n.host, hostPath), 'utf8'), '[registries]\nexample = "x"\n');
  const kata = parse(readFileSync(join(n.host, `opt/edgeless/${HANDLER}/etc/configuration-qemu-snp.toml`), 'utf8'));
  t.is(getPath(kata, ['hypervisor', 'qemu', 'contrast_imagepuller_config']), hostPath);
});

test('k3s template with {{ template "base" . }}: directives kept; k3s-style rendering runs in real containerd', async (t) => {
  const dirRel = 'var/lib/rancher/k3s/agent/etc/containerd';
  const n = node(t, 'k3s-rendered.toml', `${dirRel}/config.toml`);
  const handler = 'contrast-cc-k3s-qemu-snp-e2e00004';
  n.writeManifest(shippedManifest(n, { handler }));
  const tmplPath = join(n.host, dirRel, 'config.toml.tmpl');
  const extras =
    '\n# site runtime kept by the installer\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.custom]\n  runtime_type = "io.containerd.runc.v2"\n';
  const template = `{{ template "base" . }}\n${extras}`;
  writeFileSync(tmplPath, template);
  mkdirSync(n.targetConfigDir);
  writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
  const r = await runInstaller(['K3s-QEMU-SNP'], n.env());
  t.is(r.code, 0, r.stderr);
  const out = readFileSync(tmplPath, 'utf8');
  t.true(out.startsWith(template));
  const backups = readdirSync(join(n.host, dirRel)).filter((f) => f.endsWith('.bak'));
  t.is(backups.length, 1);
  t.is(readFileSync(join(n.host, dirRel, backups[0]!), 'utf8'), template);
  const r2 = await runInstaller(['K3s-QEMU-SNP'], n.env());
  t.is(r2.code, 0, r2.stderr);
  t.is(readFileSync(tmplPath, 'utf8'), out);
  // Render as k3s does: the base config in place of the directive, the rest of the template after it.
  const renderedNext = join(n.dir, 'rendered-next.toml');
  writeFileSync(
    renderedNext,
    out.replace('{{ template "base" . }}\n', readFileSync(join(n.host, dirRel, 'config.toml'), 'utf8')),
  );
  const runtimes = await runtimesOf(t, renderedNext);
  t.is(runtimes[handler]?.['runtimeType'], 'io.containerd.contrast-cc.v2');
  t.is(runtimes['custom']?.['runtimeType'], 'io.containerd.runc.v2');
  t.is(runtimes['runc']?.['runtimeType'], 'io.containerd.runc.v2');
});
