/**
 * secure-pv through the real program (root, loop devices; open/close/mount/umount recorded): a failed
 * mount gives exit 1 and no done file with the mapping closed; the next start does not format again,
 * writes the done file, stays running and unmounts and closes on SIGTERM; the `cryptsetup`
 * sub-command does the same with the seed written before.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mappingName } from '../../initializer/secure-volume.js';
import { parseLogLines } from './helpers/logs.js';
import { spawnFixture } from './helpers/spawn.js';
import { loopDevice } from './helpers/volume-system.js';

async function head(device: string): Promise<Buffer> {
  const fh = await open(device, 'r');
  try {
    const buf = Buffer.alloc(16 << 20);
    await fh.read(buf, 0, buf.length, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

test('CRYPTSETUP_DEVICE through the program: failure closes and writes no done file; success holds until SIGTERM', async (t) => {
  t.timeout(400_000);
  const root = await mkdtemp(join(tmpdir(), `secure-pv-prog-${process.pid}-`));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const pvDir = join(root, 'pv');
  await mkdir(join(pvDir, 'mapper'), { recursive: true });
  const disk = await loopDevice(t, 24);
  const mapping = await loopDevice(t, 16);
  const done = join(root, 'done');
  const env = {
    COORDINATOR_HOST: 'coordinator',
    CONTRAST_TLS_DIR: join(root, 'tls'),
    CONTRAST_SECRETS_DIR: join(root, 'secrets'),
    CONTRAST_DONE_FILE: done,
    FIXTURE_SECRET_ID: 'apps/v1/StatefulSet/default/db',
    CRYPTSETUP_DEVICE: disk.device,
    FIXTURE_SECURE_PV_DIR: pvDir,
    FIXTURE_SECURE_PV_MAPPING: mapping.device,
  };
  const name = mappingName(disk.device, join(pvDir, 'state'));
  const calls = async (): Promise<string[]> => {
    const text = await readFile(join(pvDir, 'calls.jsonl'), 'utf8').catch(() => '');
    await rm(join(pvDir, 'calls.jsonl'), { force: true });
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as string[]).slice(0, 2).join(' '));
  };

  const failed = spawnFixture({ ...env, FIXTURE_SECURE_PV_FAIL: 'mount' });
  t.is((await failed.exited).code, 1, failed.stderr());
  const errors = parseLogLines(failed.stderr()).filter((l) => l['level'] === 'ERROR');
  t.is(errors.length, 1);
  t.is(errors[0]!['code'], 'ERR_INIT_SECURE_PV_FAILED');
  t.false(await exists(done), 'no done file');
  t.deepEqual(await calls(), [
    'cryptsetup isLuks',
    'cryptsetup luksFormat',
    'cryptsetup luksHeaderBackup',
    'cryptsetup luksDump',
    'cryptsetup luksOpen',
    'mkfs.ext4 -b',
    'mkfs.ext4 -b',
    'mount -o',
    'cryptsetup luksClose',
  ]);
  const formatted = await head(disk.device);

  const ok = spawnFixture(env);
  t.teardown(() => ok.child.kill('SIGKILL'));
  await ok.waitForMsg('Idling to keep propagated cryptsetup device mounts alive');
  t.true(await exists(done), 'done file while the volume is held');
  t.true((await head(disk.device)).equals(formatted), 'a LUKS device is not formatted again');
  t.deepEqual(await calls(), [
    'cryptsetup isLuks',
    'cryptsetup luksHeaderBackup',
    'cryptsetup luksDump',
    'cryptsetup luksOpen',
    'mount -o',
  ]);
  ok.child.kill('SIGTERM');
  t.is((await ok.exited).code, 0, ok.stderr());
  t.deepEqual(await calls(), ['umount ' + join(pvDir, 'state'), 'cryptsetup luksClose'], ok.stderr());
  t.true(parseLogLines(ok.stderr()).some((l) => l['msg'] === 'Encrypted volume closed'));
  t.regex(ok.stderr(), new RegExp(name));

  // The sub-command: the volume alone, with the seed the run above wrote.
  await rm(done);
  const sub = spawnFixture({ ...env, CRYPTSETUP_DEVICE: '' }, [
    'cryptsetup',
    '--device-path',
    disk.device,
    '--mount-point',
    join(pvDir, 'state'),
  ]);
  t.teardown(() => sub.child.kill('SIGKILL'));
  await sub.waitForMsg('Idling to keep propagated cryptsetup device mounts alive');
  t.true(await exists(done));
  sub.child.kill('SIGTERM');
  t.is((await sub.exited).code, 0, sub.stderr());
  t.deepEqual((await calls()).slice(-2), ['umount ' + join(pvDir, 'state'), 'cryptsetup luksClose']);
  t.true((await head(disk.device)).equals(formatted));

  // The done file cannot be written after the volume was mounted: unmounted and closed again, exit 1.
  // (An immutable directory for the done file: root cannot create it there; ext4 supports chattr.)
  const locked = join(root, 'locked');
  await mkdir(locked);
  execFileSync('chattr', ['+i', locked]);
  t.teardown(() => {
    execFileSync('chattr', ['-i', locked]);
  });
  const noDone = spawnFixture({ ...env, CONTRAST_DONE_FILE: join(locked, 'done') });
  t.is((await noDone.exited).code, 1, noDone.stderr());
  t.is(parseLogLines(noDone.stderr()).find((l) => l['level'] === 'ERROR')?.['code'], 'ERR_INIT_WRITE');
  t.deepEqual((await calls()).slice(-3), ['mount -o', 'umount ' + join(pvDir, 'state'), 'cryptsetup luksClose']);
});
