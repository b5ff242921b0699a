/**
 * Containment inside HOST_MOUNT, end to end: the real installer runs as root in a private mount
 * namespace (unshare -m) where HOST_MOUNT is a mount point of its own, against a host tree with
 * symlinks planted at /opt, /opt/edgeless, <runtime>/bin and /etc/containerd that point at an
 * "outside" directory. Install and uninstall refuse with an ERROR naming the link; the outside
 * directory and the host tree stay byte for byte as they were.
 */
import test, { type ExecutionContext } from 'ava';
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createFakeNode, fixture, runInstaller, shippedManifest, snapshotTree, type FakeNode } from './helpers/host.js';

const HANDLER = 'contrast-cc-metal-qemu-snp-contain1';
/** HOST_MOUNT becomes a mount point of its own in a private mount namespace, as in the DaemonSet. */
const NS = [
  'unshare',
  '-m',
  '--propagation',
  'private',
  '--',
  'sh',
  '-c',
  'mount --bind "$HOST_MOUNT" "$HOST_MOUNT" && exec "$@"',
  'sh',
];

function node(t: ExecutionContext): FakeNode & { outside: string } {
  const n = createFakeNode();
  t.teardown(() => {
    n.cleanup();
  });
  n.writeManifest(shippedManifest(n, { handler: HANDLER }));
  mkdirSync(n.targetConfigDir);
  writeFileSync(join(n.targetConfigDir, 'restart-systemd-unit'), 'false');
  const outside = join(n.dir, 'outside');
  mkdirSync(join(outside, 'bin'), { recursive: true });
  mkdirSync(join(outside, 'edgeless'), { recursive: true });
  writeFileSync(join(outside, 'config.toml'), fixture('containerd-v2.toml'));
  writeFileSync(join(outside, 'bin/containerd-shim-contrast-cc-v2'), 'not ours\n');
  writeFileSync(join(outside, 'edgeless/keep'), 'keep\n');
  return { ...n, outside };
}

function errorOf(
  r: { lines: Record<string, unknown>[]; stderr: string },
  t: ExecutionContext,
): Record<string, unknown> {
  const errors = r.lines.filter((l) => String(l['level']).toLowerCase() === 'error');
  t.is(errors.length, 1, r.stderr);
  return errors[0] ?? {};
}

/**
 * Runs the installer with `args` and checks that it refuses with one ERR_HOST_PATH naming the link at
 * `link` (relative to the host), and that the outside directory and the host tree stay as they were.
 */
async function expectRefused(
  t: ExecutionContext,
  n: FakeNode & { outside: string },
  args: string[],
  link: string,
): Promise<void> {
  const outsideBefore = snapshotTree(n.outside);
  const hostBefore = snapshotTree(n.host);
  const r = await runInstaller(args, n.env(), undefined, NS);
  t.is(r.code, 1, r.stderr);
  const err = errorOf(r, t);
  t.is(err['code'], 'ERR_HOST_PATH');
  t.true(String(err['msg']).includes(join(n.host, link)), String(err['msg']));
  t.deepEqual(snapshotTree(n.outside), outsideBefore, 'outside byte for byte');
  t.deepEqual(snapshotTree(n.host), hostBefore, 'host tree unchanged');
}

const runtime = `opt/edgeless/${HANDLER}`;

const INSTALL_CASES: { name: string; plant: (n: FakeNode & { outside: string }) => void; link: string }[] = [
  {
    name: '/opt/edgeless',
    link: 'opt/edgeless',
    plant: (n) => {
      mkdirSync(join(n.host, 'opt'));
      symlinkSync(join(n.outside, 'edgeless'), join(n.host, 'opt/edgeless'));
    },
  },
  {
    name: '/opt',
    link: 'opt',
    plant: (n) => {
      symlinkSync(n.outside, join(n.host, 'opt'));
    },
  },
  {
    name: '<runtime>/bin',
    link: `${runtime}/bin`,
    plant: (n) => {
      mkdirSync(join(n.host, runtime), { recursive: true });
      symlinkSync(join(n.outside, 'bin'), join(n.host, runtime, 'bin'));
    },
  },
  {
    name: '/etc/containerd',
    link: 'etc/containerd',
    plant: (n) => {
      rmSync(join(n.host, 'etc/containerd'), { recursive: true });
      symlinkSync(n.outside, join(n.host, 'etc/containerd'));
    },
  },
];

for (const c of INSTALL_CASES) {
  test(`install: a link at ${c.name} to a directory outside HOST_MOUNT is refused; nothing changes`, async (t) => {
    const n = node(t);
    c.plant(n);
    await expectRefused(t, n, ['Metal-QEMU-SNP'], c.link);
  });
}

const UNINSTALL_CASES: { name: string; plant: (n: FakeNode & { outside: string }) => void; link: string }[] = [
  {
    name: '/opt/edgeless',
    link: 'opt/edgeless',
    plant: (n) => {
      renameSync(join(n.host, 'opt/edgeless'), join(n.outside, 'moved'));
      symlinkSync(join(n.outside, 'moved'), join(n.host, 'opt/edgeless'));
    },
  },
  {
    name: '/opt',
    link: 'opt',
    plant: (n) => {
      renameSync(join(n.host, 'opt'), join(n.outside, 'opt'));
      symlinkSync(join(n.outside, 'opt'), join(n.host, 'opt'));
    },
  },
  {
    name: '<runtime>/bin',
    link: `${runtime}/bin`,
    plant: (n) => {
      rmSync(join(n.host, runtime, 'bin'), { recursive: true });
      symlinkSync(join(n.outside, 'bin'), join(n.host, runtime, 'bin'));
    },
  },
  {
    name: '/etc/containerd',
    link: 'etc/containerd',
    plant: (n) => {
      cpSync(join(n.host, 'etc/containerd'), join(n.outside, 'containerd'), { recursive: true });
      rmSync(join(n.host, 'etc/containerd'), { recursive: true });
      symlinkSync(join(n.outside, 'containerd'), join(n.host, 'etc/containerd'));
    },
  },
];

for (const c of UNINSTALL_CASES) {
  test(`uninstall: a link at ${c.name} to a directory outside HOST_MOUNT is refused; nothing changes`, async (t) => {
    const n = node(t);
    const r1 = await runInstaller(['Metal-QEMU-SNP'], n.env(), undefined, NS);
    t.is(r1.code, 0, r1.stderr);
    t.true(existsSync(join(n.host, runtime, 'bin/containerd-shim-contrast-cc-v2')));
    c.plant(n);
    await expectRefused(t, n, ['uninstall', 'Metal-QEMU-SNP'], c.link);
    t.is(readFileSync(join(n.outside, 'bin/containerd-shim-contrast-cc-v2'), 'utf8'), 'not ours\n');
  });
}

test('a link that stays inside HOST_MOUNT is followed: install and uninstall through /etc/containerd → ../srv/containerd', async (t) => {
  const n = node(t);
  mkdirSync(join(n.host, 'srv'));
  renameSync(join(n.host, 'etc/containerd'), join(n.host, 'srv/containerd'));
  symlinkSync('../srv/containerd', join(n.host, 'etc/containerd'));
  const original = readFileSync(join(n.host, 'srv/containerd/config.toml'), 'utf8');
  const outsideBefore = snapshotTree(n.outside);
  const hostBefore = snapshotTree(n.host);
  const r1 = await runInstaller(['Metal-QEMU-SNP'], n.env(), undefined, NS);
  t.is(r1.code, 0, r1.stderr);
  t.true(readFileSync(join(n.host, 'srv/containerd/config.toml'), 'utf8').includes(`runtimes.${HANDLER}]`));
  const r2 = await runInstaller(['uninstall', 'Metal-QEMU-SNP'], n.env(), undefined, NS);
  t.is(r2.code, 0, r2.stderr);
  t.is(readFileSync(join(n.host, 'srv/containerd/config.toml'), 'utf8'), original);
  t.deepEqual(snapshotTree(n.host), hostBefore, 'uninstall leaves the host as it was before install');
  t.deepEqual(snapshotTree(n.outside), outsideBefore);
});
