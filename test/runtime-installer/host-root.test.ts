/**
 * HostRoot: every host path resolved inside HOST_MOUNT by the kernel (openat2 RESOLVE_BENEATH) or, as
 * the ENOSYS fallback, by the userspace O_NOFOLLOW walk. Both resolvers run the same table: links that
 * lead out are refused naming the link, links that stay inside are followed, and the "outside"
 * directory stays byte for byte as it was.
 */
import test, { type ExecutionContext } from 'ava';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  existsSync,
  lstatSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsAt, FsAtArgumentError } from '../../lib/native/fsat.js';
import { HostRoot, type Resolver } from '../../runtime-installer/host-root.js';
import { snapshotTree } from './helpers/host.js';

interface Tree {
  readonly dir: string;
  readonly host: string;
  readonly outside: string;
}

function tree(t: ExecutionContext): Tree {
  const dir = mkdtempSync(join(tmpdir(), `ri-hostroot-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const host = join(dir, 'host');
  const outside = join(dir, 'outside');
  mkdirSync(join(host, 'etc'), { recursive: true });
  mkdirSync(join(host, 'srv/containerd'), { recursive: true });
  mkdirSync(join(outside, 'bin'), { recursive: true });
  writeFileSync(join(outside, 'config.toml'), 'outside config\n');
  writeFileSync(join(outside, 'bin/shim'), 'outside shim\n');
  writeFileSync(join(host, 'srv/containerd/config.toml'), 'inside config\n');
  return { dir, host, outside };
}

const RESOLVERS: Resolver[] = ['openat2', 'walk'];

/** Links that lead out of the mount, with the link the error must name. */
const ESCAPES: { name: string; plant: (tr: Tree) => void; path: string; link: string }[] = [
  {
    name: 'absolute link at /opt',
    plant: (tr) => {
      symlinkSync(tr.outside, join(tr.host, 'opt'));
    },
    path: 'opt/edgeless/h/bin/shim',
    link: 'opt',
  },
  {
    name: 'absolute link at /opt/edgeless',
    plant: (tr) => {
      mkdirSync(join(tr.host, 'opt'));
      symlinkSync(tr.outside, join(tr.host, 'opt/edgeless'));
    },
    path: 'opt/edgeless/bin/shim',
    link: 'opt/edgeless',
  },
  {
    name: 'relative link climbing out at <runtime>/bin',
    plant: (tr) => {
      mkdirSync(join(tr.host, 'opt/edgeless/h'), { recursive: true });
      symlinkSync('../../../../outside/bin', join(tr.host, 'opt/edgeless/h/bin'));
    },
    path: 'opt/edgeless/h/bin/shim',
    link: 'opt/edgeless/h/bin',
  },
  {
    name: 'absolute link at /etc/containerd',
    plant: (tr) => {
      symlinkSync(tr.outside, join(tr.host, 'etc/containerd'));
    },
    path: 'etc/containerd/config.toml',
    link: 'etc/containerd',
  },
  {
    name: 'chain: inside link to a link that leads out',
    plant: (tr) => {
      symlinkSync('../srv/esc', join(tr.host, 'etc/containerd'));
      symlinkSync('../../outside', join(tr.host, 'srv/esc'));
    },
    path: 'etc/containerd/config.toml',
    link: 'srv/esc',
  },
  {
    name: 'magic link through a proc-like path',
    plant: (tr) => {
      symlinkSync('/proc/self/root', join(tr.host, 'etc/containerd'));
    },
    path: 'etc/containerd/config.toml',
    link: 'etc/containerd',
  },
];

for (const resolver of RESOLVERS) {
  for (const c of ESCAPES) {
    test(`${resolver}: ${c.name} is refused naming the link; outside untouched`, async (t) => {
      const tr = tree(t);
      c.plant(tr);
      const outsideBefore = snapshotTree(tr.outside);
      const host = HostRoot.open(tr.host, { resolver });
      t.teardown(() => {
        host.close();
      });
      const path = join(tr.host, c.path);
      const ops: [string, () => Promise<unknown>][] = [
        ['write', () => host.writeFileAtomic(path, 'x')],
        ['read', () => host.readFile(path)],
        [
          'mkdir',
          () =>
            new Promise((resolve) => {
              host.mkdirp(join(path, '..'));
              resolve(undefined);
            }),
        ],
        ['unlink', () => host.unlink(path)],
        ['chmod', () => host.chmod(path, 0o600)],
        ['lstat', () => host.lstat(path)],
        ['readdir', () => host.readdir(join(path, '..'))],
      ];
      for (const [op, run] of ops) {
        const err = await t.throwsAsync(run(), undefined, op);
        t.is((err as { code?: string }).code, 'ERR_HOST_PATH', `${op}: ${err.message}`);
        t.true(err.message.includes(join(tr.host, c.link)), `${op} names the link: ${err.message}`);
      }
      t.deepEqual(snapshotTree(tr.outside), outsideBefore);
      t.is(readFileSync(join(tr.outside, 'config.toml'), 'utf8'), 'outside config\n');
    });
  }

  test(`${resolver}: links that stay inside the mount are followed`, async (t) => {
    const tr = tree(t);
    symlinkSync('../srv/containerd', join(tr.host, 'etc/containerd'));
    const host = HostRoot.open(tr.host, { resolver });
    t.teardown(() => {
      host.close();
    });
    const cfg = join(tr.host, 'etc/containerd/config.toml');
    t.is((await host.readFile(cfg))?.toString(), 'inside config\n');
    t.true(await host.writeFileAtomic(cfg, 'new\n', { mode: 0o600 }));
    t.is(readFileSync(join(tr.host, 'srv/containerd/config.toml'), 'utf8'), 'new\n');
    t.true(lstatSync(join(tr.host, 'etc/containerd')).isSymbolicLink(), 'the directory link stays');
    t.false(await host.writeFileAtomic(cfg, 'new\n', { mode: 0o600 }), 'identical: no write');
    const created: string[] = [];
    host.mkdirp(join(tr.host, 'opt/edgeless/h/bin'), 0o755, created);
    t.deepEqual(
      created,
      ['opt', 'opt/edgeless', 'opt/edgeless/h', 'opt/edgeless/h/bin'].map((p) => join(tr.host, p)),
    );
    t.deepEqual((await host.readdir(join(tr.host, 'etc/containerd'))).sort(), ['config.toml']);
    t.true(await host.unlink(cfg));
    t.false(existsSync(join(tr.host, 'srv/containerd/config.toml')));
    t.false(await host.unlink(cfg), 'already gone');
  });

  test(`${resolver}: a link as the last component is replaced or refused, never followed`, async (t) => {
    const tr = tree(t);
    const outsideBefore = snapshotTree(tr.outside);
    mkdirSync(join(tr.host, 'etc/containerd'));
    const cfg = join(tr.host, 'etc/containerd/config.toml');
    symlinkSync(join(tr.outside, 'config.toml'), cfg);
    const host = HostRoot.open(tr.host, { resolver });
    t.teardown(() => {
      host.close();
    });
    // chmod through the link: refused. Reading: the link leads out, refused.
    t.is(((await t.throwsAsync(host.chmod(cfg, 0o777))) as { code?: string }).code, 'ERR_HOST_PATH');
    t.is(((await t.throwsAsync(host.readFile(cfg))) as { code?: string }).code, 'ERR_HOST_PATH');
    // unlink removes the link itself.
    t.true(await host.unlink(cfg));
    symlinkSync(join(tr.outside, 'config.toml'), cfg);
    // An atomic write replaces the link by a file.
    await host.writeFileAtomic(cfg, 'ours\n');
    t.false(lstatSync(cfg).isSymbolicLink());
    t.deepEqual(snapshotTree(tr.outside), outsideBefore);
  });
}

test('removeTree removes links without entering them', async (t) => {
  const tr = tree(t);
  const outsideBefore = snapshotTree(tr.outside);
  mkdirSync(join(tr.host, 'opt/edgeless/h'), { recursive: true });
  symlinkSync(tr.outside, join(tr.host, 'opt/edgeless/h/bin'));
  writeFileSync(join(tr.host, 'opt/edgeless/h/file'), 'x');
  const host = HostRoot.open(tr.host);
  t.teardown(() => {
    host.close();
  });
  await host.removeTree(join(tr.host, 'opt/edgeless/h'));
  t.false(existsSync(join(tr.host, 'opt/edgeless/h')));
  t.deepEqual(snapshotTree(tr.outside), outsideBefore);
});

test('paths outside the mount and .. are refused before any system call', (t) => {
  const tr = tree(t);
  const host = HostRoot.open(tr.host);
  t.teardown(() => {
    host.close();
  });
  t.throws(() => host.components('/etc/passwd'), { code: 'ERR_HOST_PATH' as never });
  t.throws(() => host.onHost('/etc/../../x'), { code: 'ERR_HOST_PATH' as never });
  t.deepEqual(host.components(join(tr.host, 'a/./b')), ['a', 'b']);
  t.is(host.hostPathOf(join(tr.host, 'etc/x')), '/etc/x');
});

test('the native face validates arguments and turns errno into typed errors', (t) => {
  const fs = new FsAt();
  t.true(fs.constants.RESOLVE_BENEATH > 0);
  t.throws(
    () => {
      fs.mkdirat(-5, 'x', 0o755);
    },
    { instanceOf: FsAtArgumentError },
  );
  t.throws(
    () => {
      fs.unlinkat(fs.constants.AT_FDCWD, 'a/b');
    },
    { instanceOf: FsAtArgumentError },
  );
  t.throws(() => fs.openat2(fs.constants.AT_FDCWD, 'a\0b', { flags: 0, resolve: 0 }), {
    instanceOf: FsAtArgumentError,
  });
  const err = t.throws(() =>
    fs.openat2(fs.constants.AT_FDCWD, '/nonexistent-ri-test', { flags: fs.constants.O_RDONLY, resolve: 0 }),
  );
  t.is((err as { code?: string }).code, 'ERR_NATIVE_FS');
  t.is((err as unknown as { errnoCode: string }).errnoCode, 'ENOENT');
  const dir = tree(t).dir;
  const fd = fs.openat(fs.constants.AT_FDCWD, dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  t.teardown(() => {
    closeSync(fd);
  });
  const escape = t.throws(() =>
    fs.openat2(fd, '../..', { flags: fs.constants.O_RDONLY, resolve: fs.constants.RESOLVE_BENEATH }),
  );
  t.is((escape as unknown as { errnoCode: string }).errnoCode, 'EXDEV');
});
