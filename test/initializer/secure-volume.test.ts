/**
 * secure-pv against real loop devices (root): format, header checks, key handling run for real; open,
 * close, mount and umount through the recording seam (this kernel has no device-mapper), and the
 * recorded commands are checked against upstream's.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.js';
import { SecureVolumeError } from '../../initializer/errors.js';
import { formatArgs, NO_INTEGRITY_PROFILE, UPSTREAM_PROFILE } from '../../initializer/secure-volume-luks.js';
import {
  isExt4,
  mappingName,
  openSecureVolume,
  superblockBackups,
  type SecureVolumeOptions,
  type VolumeSystem,
} from '../../initializer/secure-volume.js';
import { loopDevice, recordingSystem } from './helpers/volume-system.js';

const HEADER_BYTES = 16 << 20; // LUKS2 header + keyslots area (the data segment starts here)

async function workspace(t: { teardown(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), `secure-pv-ws-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const seed = join(dir, 'workload-secret-seed');
  await writeFile(seed, randomBytes(64).toString('hex'), { mode: 0o400 });
  const mapperDir = join(dir, 'mapper');
  const headerDir = join(dir, 'shm');
  execFileSync('mkdir', ['-p', mapperDir]);
  return { dir, seed, mapperDir, headerDir, mountPoint: join(dir, 'state') };
}

/** Options for a volume on `devicePath` in the workspace: its seed, mount point and directories, no integrity. */
function volumeOptions(
  ws: Awaited<ReturnType<typeof workspace>>,
  devicePath: string,
  system: VolumeSystem,
): SecureVolumeOptions {
  return {
    devicePath,
    mountPoint: ws.mountPoint,
    keyFile: ws.seed,
    logger: silentLogger(),
    system,
    profile: NO_INTEGRITY_PROFILE,
    mapperDir: ws.mapperDir,
    headerDir: ws.headerDir,
  };
}

async function head(device: string, bytes = HEADER_BYTES): Promise<Buffer> {
  const fh = await open(device, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    await fh.read(buf, 0, bytes, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

const strip = (calls: string[][]): string[] =>
  calls.map((c) => c.join(' ').replace(/luks-header-[0-9a-f]{8}/g, 'luks-header-X'));

test("upstream parameters: the luksFormat arguments of the production profile are upstream's, in order", (t) => {
  t.deepEqual(formatArgs(UPSTREAM_PROFILE, '/dev/csi0', '/contrast/secrets/workload-secret-seed'), [
    'luksFormat',
    '--type=luks2',
    '--cipher=aes-xts-plain64',
    '--pbkdf=argon2id',
    '--pbkdf-memory=10240',
    '--integrity=hmac-sha256',
    '--integrity-no-wipe',
    '--sector-size=4096',
    '--batch-mode',
    '--key-file=/contrast/secrets/workload-secret-seed',
    '/dev/csi0',
  ]);
  t.is(
    mappingName('/dev/csi0', '/state'),
    execFileSync('sh', ['-c', 'printf %s /dev/csi0/state | sha256sum'], { encoding: 'utf8' }).slice(0, 16),
  );
  t.deepEqual(
    superblockBackups('x\nSuperblock backups stored on blocks: \n\t32768, 98304, 163840\n\nAllocating group tables'),
    [32768, 98304, 163840],
  );
});

test('first use formats, verifies, opens, makes ext4 and mounts; a second run formats nothing; a wrong key changes nothing', async (t) => {
  t.timeout(300_000);
  const ws = await workspace(t);
  const disk = await loopDevice(t, 24);
  const mapping = await loopDevice(t, 16);
  const system = recordingSystem({ mapperDir: ws.mapperDir, mappingTarget: mapping.device });
  const base = volumeOptions(ws, disk.device, system);
  const name = mappingName(disk.device, ws.mountPoint);
  const hdr = `${ws.headerDir}/luks-header-X`;
  const mapper = `${ws.mapperDir}/${name}`;

  const volume = await openSecureVolume(base);
  t.is(volume.mappingName, name);
  t.deepEqual(strip(system.calls), [
    `cryptsetup isLuks --verbose ${disk.device}`,
    `cryptsetup ${formatArgs(NO_INTEGRITY_PROFILE, disk.device, ws.seed).join(' ')}`,
    `cryptsetup luksHeaderBackup ${disk.device} --header-backup-file ${hdr}`,
    `cryptsetup luksDump --header=${hdr} --dump-json-metadata /dev/null`,
    `cryptsetup luksOpen --header=${hdr} --key-file=${ws.seed} ${disk.device} ${name}`,
    `mkfs.ext4 -b 4096 -F -n ${mapper}`,
    `mkfs.ext4 -b 4096 ${mapper}`,
    `mount -o sync,data=journal ${mapper} ${ws.mountPoint}`,
  ]);
  // What the real format wrote: upstream's parameters as far as this kernel allows.
  const dump = JSON.parse(
    execFileSync('cryptsetup', ['luksDump', '--dump-json-metadata', disk.device], { encoding: 'utf8' }),
  ) as {
    keyslots: Record<string, { kdf: { type: string; memory: number } }>;
    segments: Record<string, { encryption: string; sector_size: number }>;
  };
  t.is(dump.keyslots['0']?.kdf.type, 'argon2id');
  t.is(dump.keyslots['0']?.kdf.memory, 10240);
  t.is(dump.segments['0']?.encryption, 'aes-xts-plain64');
  t.is(dump.segments['0']?.sector_size, 4096);
  t.true(await isExt4(mapping.device), 'mkfs.ext4 ran for real on the mapping');
  t.deepEqual(execFileSync('ls', [ws.headerDir], { encoding: 'utf8' }), '', 'the detached header copy is gone');
  system.calls.length = 0;
  await volume.close();
  t.deepEqual(strip(system.calls), [`umount ${ws.mountPoint}`, `cryptsetup luksClose ${name}`]);

  // Second start: a LUKS device is not formatted again, the ext4 on it is kept.
  system.calls.length = 0;
  const again = await openSecureVolume(base);
  t.false(strip(system.calls).some((c) => c.includes('luksFormat') || c.startsWith('mkfs.ext4')));
  await again.close();

  // A wrong key: the open fails for real, nothing is formatted, mounted or left open; header bytes unchanged.
  const before = await head(disk.device);
  const wrong = join(ws.dir, 'other-seed');
  await writeFile(wrong, randomBytes(64).toString('hex'));
  system.calls.length = 0;
  const err = await t.throwsAsync(openSecureVolume({ ...base, keyFile: wrong }), { instanceOf: SecureVolumeError });
  t.is(err.code, 'ERR_INIT_SECURE_PV_FAILED');
  t.regex(err.message, /opening .* as [0-9a-f]{16}: cryptsetup luksOpen exited 2/);
  t.false(strip(system.calls).some((c) => /luksFormat|mkfs|mount/.test(c)));
  t.true((await head(disk.device)).equals(before), 'header bytes unchanged');

  // mkfs and mount failures close the mapping again; the header stays as it was.
  for (const failOn of ['mkfs.ext4', 'mount']) {
    const fresh = await loopDevice(t, 16);
    const failing = recordingSystem({ mapperDir: ws.mapperDir, mappingTarget: fresh.device, failOn });
    const e = await t.throwsAsync(openSecureVolume({ ...base, system: failing }), { instanceOf: SecureVolumeError });
    t.is(e.code, 'ERR_INIT_SECURE_PV_FAILED');
    t.regex(e.message, /injected failure/);
    const calls = strip(failing.calls);
    t.is(calls.at(-1), `cryptsetup luksClose ${name}`, `${failOn}: closed again`);
    t.false(calls.some((c) => c.includes('luksFormat')));
    t.true((await head(disk.device)).equals(before), `${failOn}: header bytes unchanged`);
  }
});

test("a device formatted by the cryptsetup CLI with upstream's parameters opens; a header changed afterwards is refused before opening", async (t) => {
  t.timeout(300_000);
  const ws = await workspace(t);
  const disk = await loopDevice(t, 24);
  const mapping = await loopDevice(t, 16);
  // Upstream's luksFormat invocation, less --integrity=hmac-sha256 --integrity-no-wipe (no dm-integrity here).
  execFileSync('cryptsetup', [
    'luksFormat',
    '--type=luks2',
    '--cipher=aes-xts-plain64',
    '--pbkdf=argon2id',
    '--pbkdf-memory=10240',
    '--sector-size=4096',
    '--batch-mode',
    `--key-file=${ws.seed}`,
    disk.device,
  ]);
  const system = recordingSystem({ mapperDir: ws.mapperDir, mappingTarget: mapping.device });
  const base = volumeOptions(ws, disk.device, system);
  const volume = await openSecureVolume(base);
  t.false(strip(system.calls).some((c) => c.includes('luksFormat')));
  t.true(strip(system.calls).some((c) => c.startsWith('cryptsetup luksOpen')));
  await volume.close();

  // The production profile expects upstream's integrity segment: this header is not it.
  const strict = await t.throwsAsync(openSecureVolume({ ...base, profile: UPSTREAM_PROFILE }), {
    instanceOf: SecureVolumeError,
  });
  t.is(strict.code, 'ERR_INIT_SECURE_PV_HEADER');
  t.regex(strict.message, /segment 0 integrity/);

  const other = join(ws.dir, 'attacker-key');
  await writeFile(other, 'attacker');
  const tampers: [string, string[], RegExp][] = [
    [
      'a second keyslot',
      [
        'luksAddKey',
        '--batch-mode',
        '--pbkdf=pbkdf2',
        '--pbkdf-force-iterations=1000',
        `--key-file=${ws.seed}`,
        disk.device,
        other,
      ],
      /keyslots is \["0","1"\]/,
    ],
    [
      'keyslot 0 converted to pbkdf2',
      [
        'luksConvertKey',
        '--batch-mode',
        '--pbkdf=pbkdf2',
        '--pbkdf-force-iterations=1000',
        `--key-file=${ws.seed}`,
        '--key-slot=0',
        disk.device,
      ],
      /keyslot 0 kdf type is "pbkdf2"/,
    ],
  ];
  for (const [what, args, expected] of tampers) {
    if (what === 'keyslot 0 converted to pbkdf2')
      execFileSync('cryptsetup', ['luksKillSlot', '--batch-mode', disk.device, '1']);
    execFileSync('cryptsetup', args);
    const before = await head(disk.device);
    system.calls.length = 0;
    const err = await t.throwsAsync(openSecureVolume(base), { instanceOf: SecureVolumeError });
    t.is(err.code, 'ERR_INIT_SECURE_PV_HEADER', what);
    t.regex(err.message, expected, what);
    t.false(
      strip(system.calls).some((c) => /luksOpen|luksFormat|mount/.test(c)),
      `${what}: never opened or formatted`,
    );
    t.true((await head(disk.device)).equals(before), `${what}: header bytes unchanged`);
  }
});

test('isLuks failing on a device it cannot read is an error, not a reason to format', async (t) => {
  const ws = await workspace(t);
  const system = recordingSystem({ mapperDir: ws.mapperDir, mappingTarget: '/nonexistent' });
  const err = await t.throwsAsync(openSecureVolume(volumeOptions(ws, join(ws.dir, 'no-such-device'), system)), {
    instanceOf: SecureVolumeError,
  });
  t.is(err.code, 'ERR_INIT_SECURE_PV_FAILED');
  t.deepEqual(
    system.calls.map((c) => c[1]),
    ['isLuks'],
  );
  const noKey = await t.throwsAsync(
    openSecureVolume({
      devicePath: '/dev/null',
      mountPoint: ws.mountPoint,
      keyFile: join(ws.dir, 'missing-seed'),
      logger: silentLogger(),
      system,
    }),
    { instanceOf: SecureVolumeError },
  );
  t.is(noKey.code, 'ERR_INIT_SECURE_PV_KEY');
  t.is(await readFile(ws.seed, 'utf8').then((s) => s.length), 128);
});
