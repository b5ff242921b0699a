/**
 * Both generations of runtimes. Seed (Contrast v1.2): the manifest names a snapshotter (tardev on
 * AKS-CLH-SNP, nydus on K3s-QEMU-*), the runtime gets `snapshotter = "<kind>-<handler>"` and a proxy
 * plugin on the sidecar's socket (upstream's expected-aks-clh-snp.toml shape; nydus as the spec's
 * nydus-era output, with the CRI image settings); newest: guest pull, no snapshotter, no proxy
 * plugin. Each platform installs from a manifest of its generation, and the containerd config must
 * be the original plus exactly that. Then a real containerd, in a mount namespace whose /run is a
 * temporary directory, loads the proxy plugin and reaches a snapshotter stand-in on its socket.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'smol-toml';
import { canonical, getPath } from '../../runtime-installer/containerd-edit.js';
import { containerdConfigDump, criRuntimes, criStatus } from './helpers/cri.js';
import { createFakeNode, runInstaller, shippedManifest, type FakeNode } from './helpers/host.js';
import { STAND_IN_MOUNT, startSnapshotterStandIn } from './helpers/snapshotter-standin.js';

const run = promisify(execFile);
const K3S_RENDERED = 'var/lib/rancher/k3s/agent/etc/containerd/config.toml';

interface Case {
  readonly platform: string;
  readonly snapshotter: 'tardev' | 'nydus' | undefined;
  readonly fixture: string;
  readonly rendered: string;
  readonly written: string;
  readonly kata: string;
  readonly gpu: boolean;
}

const CASES: readonly Case[] = [
  {
    platform: 'AKS-CLH-SNP',
    snapshotter: 'tardev',
    fixture: 'containerd-v2.toml',
    rendered: 'etc/containerd/config.toml',
    written: 'etc/containerd/config.toml',
    kata: 'configuration-clh-snp.toml',
    gpu: false,
  },
  {
    platform: 'K3s-QEMU-SNP',
    snapshotter: 'nydus',
    fixture: 'k3s-rendered.toml',
    rendered: K3S_RENDERED,
    written: `${K3S_RENDERED}.tmpl`,
    kata: 'configuration-qemu-snp.toml',
    gpu: false,
  },
  {
    platform: 'K3s-QEMU-TDX',
    snapshotter: 'nydus',
    fixture: 'k3s-rendered.toml',
    rendered: K3S_RENDERED,
    written: `${K3S_RENDERED}.tmpl`,
    kata: 'configuration-qemu-tdx.toml',
    gpu: false,
  },
  {
    platform: 'Metal-QEMU-SNP',
    snapshotter: undefined,
    fixture: 'containerd-v2.toml',
    rendered: 'etc/containerd/config.toml',
    written: 'etc/containerd/config.toml',
    kata: 'configuration-qemu-snp.toml',
    gpu: false,
  },
  {
    platform: 'Metal-QEMU-SNP-GPU',
    snapshotter: undefined,
    fixture: 'containerd-v2.toml',
    rendered: 'etc/containerd/config.toml',
    written: 'etc/containerd/config.toml',
    kata: 'configuration-qemu-snp.toml',
    gpu: true,
  },
  {
    platform: 'Metal-QEMU-TDX',
    snapshotter: undefined,
    fixture: 'containerd-v2.toml',
    rendered: 'etc/containerd/config.toml',
    written: 'etc/containerd/config.toml',
    kata: 'configuration-qemu-tdx.toml',
    gpu: false,
  },
  {
    platform: 'Metal-QEMU-TDX-GPU',
    snapshotter: undefined,
    fixture: 'containerd-v2.toml',
    rendered: 'etc/containerd/config.toml',
    written: 'etc/containerd/config.toml',
    kata: 'configuration-qemu-tdx.toml',
    gpu: true,
  },
];

function suffix(): string {
  return Math.random().toString(16).slice(2, 10).padEnd(8, '0');
}

function node(t: ExecutionContext, c: Case): FakeNode {
  const n = createFakeNode(c.fixture, c.rendered);
  t.teardown(() => {
    n.cleanup();
  });
  mkdirSync(n.targetConfigDir, { recursive: true });
  writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
  return n;
}

/** The spec's expected shape: the original config plus our runtime entry (and the snapshotter parts). */
function expectedConfig(original: string, c: Case, handler: string): unknown {
  const cfg = canonical(parse(original)) as Record<string, Record<string, unknown>>;
  const cri = getPath(cfg, ['plugins', 'io.containerd.grpc.v1.cri', 'containerd']) as Record<string, unknown>;
  const runtimes = (cri['runtimes'] ??= {}) as Record<string, unknown>;
  runtimes[handler] = {
    runtime_type: 'io.containerd.contrast-cc.v2',
    runtime_path: `/opt/edgeless/${handler}/bin/containerd-shim-contrast-cc-v2`,
    pod_annotations: c.gpu ? ['io.katacontainers.*', 'cdi.k8s.io/*'] : ['io.katacontainers.*'],
    privileged_without_host_devices: true,
    ...(c.snapshotter === undefined ? {} : { snapshotter: `${c.snapshotter}-${handler}` }),
    options: { ConfigPath: `/opt/edgeless/${handler}/etc/${c.kata}` },
  };
  if (c.snapshotter === 'tardev')
    cfg['proxy_plugins'] = {
      [`tardev-${handler}`]: { type: 'snapshot', address: `/run/containerd/tardev-snapshotter-${handler}.sock` },
    };
  if (c.snapshotter === 'nydus') {
    cfg['proxy_plugins'] = {
      [`nydus-${handler}`]: { type: 'snapshot', address: `/run/containerd/containerd-nydus-grpc-${handler}.sock` },
    };
    cri['discard_unpacked_layers'] = false;
    cri['disable_snapshot_annotations'] = false;
  }
  return cfg;
}

for (const c of CASES) {
  test.serial(
    `${c.platform}: ${c.snapshotter === undefined ? 'guest pull, no snapshotter, no proxy plugin' : `${c.snapshotter} proxy snapshotter`}; config dump accepts it; uninstall removes it`,
    async (t) => {
      const n = node(t, c);
      const handler = `contrast-cc-${c.platform.toLowerCase()}-${suffix()}`;
      n.writeManifest({
        ...(shippedManifest(n, { handler }) as object),
        ...(c.snapshotter === undefined ? {} : { snapshotter: c.snapshotter }),
      });
      const original = readFileSync(join(n.host, c.rendered), 'utf8');
      const r = await runInstaller([c.platform], n.env());
      t.is(r.code, 0, r.stderr);
      const written = join(n.host, c.written);
      const text = readFileSync(written, 'utf8');
      t.deepEqual(canonical(parse(text)), expectedConfig(original, c, handler));
      if (c.snapshotter === undefined) {
        t.false(
          /snapshotter = "|proxy_plugins/.test(text.slice(original.length - 10)),
          'nothing about snapshotters added',
        );
      } else {
        t.true(
          r.lines.some((l) => l['msg'] === 'proxy snapshotter' && l['snapshotter'] === `${c.snapshotter}-${handler}`),
        );
      }
      // The receipt records the snapshotter with the runtime edit: uninstall takes the proxy plugin out from it.
      const receipt = JSON.parse(readFileSync(join(n.host, `opt/edgeless/.receipts/${handler}.json`), 'utf8')) as {
        configEdits: { kind: string; snapshotter?: string }[];
      };
      t.deepEqual(
        receipt.configEdits.map((e) => [e.kind, e.snapshotter]),
        [['containerd-runtime', c.snapshotter]],
      );
      // containerd itself accepts it and sees the proxy plugin.
      const dump = parse(await containerdConfigDump(written));
      const plugin = c.snapshotter === undefined ? undefined : `${c.snapshotter}-${handler}`;
      if (plugin !== undefined) t.is(getPath(dump, ['proxy_plugins', plugin, 'type']), 'snapshot');
      else
        t.is(
          getPath(dump, ['proxy_plugins']) === undefined
            ? 0
            : Object.keys(getPath(dump, ['proxy_plugins']) as object).length,
          0,
        );
      // Re-run: unchanged.
      const r2 = await runInstaller([c.platform], n.env());
      t.is(r2.code, 0, r2.stderr);
      t.is(readFileSync(written, 'utf8'), text);
      // Uninstall: runtime entry and proxy plugin gone; only the shared CRI image settings stay (nydus).
      const u = await runInstaller(['uninstall', c.platform], n.env());
      t.is(u.code, 0, u.stderr);
      const after = canonical(parse(readFileSync(written, 'utf8'))) as Record<string, unknown>;
      const want = canonical(parse(original)) as Record<string, unknown>;
      if (c.snapshotter === 'nydus') {
        const cri = getPath(want, ['plugins', 'io.containerd.grpc.v1.cri', 'containerd']) as Record<string, unknown>;
        cri['discard_unpacked_layers'] = false;
        cri['disable_snapshot_annotations'] = false;
      }
      t.deepEqual(after, want);
      if (c.written === c.rendered) t.is(readFileSync(written, 'utf8'), original, 'byte for byte');
    },
  );
}

/** containerd in its own mount namespace with /run bound to `run`; resolves when it was started. */
function startContainerdWithRun(config: string, runDir: string, log: (c: Buffer) => void) {
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind "$0" /run && exec containerd --config "$1"',
      runDir,
      config,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.on('data', log);
  child.stderr.on('data', log);
  return {
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

for (const c of CASES.filter((x) => x.platform === 'AKS-CLH-SNP' || x.platform === 'K3s-QEMU-TDX')) {
  test(`${c.platform}: a real containerd loads the ${c.snapshotter ?? ''} proxy plugin and reaches a snapshotter on its socket`, async (t) => {
    const n = node(t, c);
    const handler = `contrast-cc-${c.platform.toLowerCase()}-${suffix()}`;
    n.writeManifest({ ...(shippedManifest(n, { handler }) as object), snapshotter: c.snapshotter });
    const r = await runInstaller([c.platform], n.env());
    t.is(r.code, 0, r.stderr);
    const written = join(n.host, c.written);
    const config = parse(readFileSync(written, 'utf8'));
    const plugin = `${c.snapshotter ?? ''}-${handler}`;
    const address = String(getPath(config, ['proxy_plugins', plugin, 'address']));
    t.true(address.startsWith('/run/containerd/'));
    // The sidecar's socket: /run/containerd/... inside containerd's namespace is <runDir>/containerd/... here.
    const runDir = mkdtempSync(join(tmpdir(), `ri-run-${process.pid}-`));
    t.teardown(() => {
      rmSync(runDir, { recursive: true, force: true });
    });
    mkdirSync(join(runDir, 'containerd'));
    const standIn = await startSnapshotterStandIn(join(runDir, address.slice('/run/'.length)), `stand-in-${handler}`);
    t.teardown(() => standIn.close());
    let log = '';
    const ctd = startContainerdWithRun(written, runDir, (b) => {
      log += b.toString();
    });
    t.teardown(() => ctd.stop());
    const socket = String(getPath(config, ['grpc', 'address']));
    try {
      const runtimes = criRuntimes(await criStatus(socket));
      t.truthy(runtimes[handler], `CRI runtimes: ${Object.keys(runtimes).join(', ')}`);
      const plugins = (await run('ctr', ['--address', socket, 'plugins', 'ls'])).stdout;
      t.regex(
        plugins,
        new RegExp(`io\\.containerd\\.snapshotter\\.v1\\s+${plugin.replace(/[.-]/g, '\\$&')}\\s+-\\s+ok`),
        plugins,
      );
      // containerd forwards a Prepare and a Mounts call to the stand-in and passes its answers back.
      await run('ctr', ['--address', socket, 'snapshots', '--snapshotter', plugin, 'prepare', 'stand-in-key']);
      const prepare = standIn.calls.find((x) => x.method === 'Prepare');
      t.truthy(prepare, 'containerd called Prepare on the stand-in');
      t.true(prepare?.key?.endsWith('/stand-in-key'), prepare?.key);
      const mounts = (
        await run('ctr', [
          '--address',
          socket,
          'snapshots',
          '--snapshotter',
          plugin,
          'mounts',
          '/mnt/target',
          'stand-in-key',
        ])
      ).stdout;
      t.is(
        mounts.trim(),
        `mount -t ${STAND_IN_MOUNT.type} ${STAND_IN_MOUNT.source} /mnt/target -o ${STAND_IN_MOUNT.options.join(',')}`,
      );
      t.true(standIn.calls.some((x) => x.method === 'Mounts'));
    } catch (err) {
      t.log(log.slice(-3000));
      throw err;
    } finally {
      await ctd.stop();
    }
  });
}

test('a manifest naming an unknown snapshotter is refused; nothing changes', async (t) => {
  const c = CASES[0]!;
  const n = node(t, c);
  n.writeManifest({
    ...(shippedManifest(n, { handler: 'contrast-cc-aks-clh-snp-0000beef' }) as object),
    snapshotter: 'overlayfs',
  });
  const before = readFileSync(join(n.host, c.written), 'utf8');
  const r = await runInstaller([c.platform], n.env());
  t.is(r.code, 1);
  const err = r.lines.find((l) => l['level'] === 'ERROR');
  t.is(err?.['code'], 'ERR_MANIFEST');
  t.regex(JSON.stringify(err), /snapshotter=\\"overlayfs\\": expected one of tardev, nydus/);
  t.is(readFileSync(join(n.host, c.written), 'utf8'), before);
});
