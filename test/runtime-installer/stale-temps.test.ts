/** The installer's stale-temporary sweep uses lib/fs-atomic's naming through the HostRoot: anything under a temporary name goes, links are not followed. */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostRoot } from '../../runtime-installer/host-root.js';
import { removeStaleTemps } from '../../runtime-installer/install.js';

test('temporaries of the file and of its backups go, whatever they are; others and the outside stay', async (t) => {
  const root = await mkdtemp(join(tmpdir(), `installer-stale-${process.pid}-`));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const outside = join(root, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'precious'), 'do not touch');
  const etc = join(root, 'etc');
  await mkdir(etc);
  await writeFile(join(etc, 'config.toml'), 'final');
  await writeFile(join(etc, 'config.toml.1700000000.bak'), 'backup');
  await mkdir(join(etc, '.config.toml.tmp-0123456789ab', 'd'), { recursive: true });
  await symlink(outside, join(etc, '.config.toml.tmp-0123456789ab', 'd', 'out'));
  await symlink(outside, join(etc, '.config.toml.1700000000.bak.tmp-0123456789ab'));
  await symlink(join(outside, 'precious'), join(etc, '.config.toml.contrast-tmp-aaaaaaaaaaaa'));
  execFileSync('mkfifo', [join(etc, '.config.toml.tmp-bbbbbbbbbbbb')]);
  const keep = [
    '.config.toml.x.bak.tmp-0123456789ab',
    '.other.toml.tmp-0123456789ab',
    'config.toml',
    'config.toml.1700000000.bak',
  ];
  for (const k of keep.slice(0, 2)) await writeFile(join(etc, k), 'keep');

  const host = HostRoot.open(root);
  t.teardown(() => {
    host.close();
  });
  await removeStaleTemps(host, join(etc, 'config.toml'));
  t.deepEqual((await readdir(etc)).sort(), [...keep].sort());
  t.deepEqual(await readdir(outside), ['precious']);
  t.is(await readFile(join(outside, 'precious'), 'utf8'), 'do not touch');
});
