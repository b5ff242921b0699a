/**
 * Encrypted persistent volume (secure-pv), upstream's sequence: format the block device as LUKS2 on
 * first use (never a device that already holds a LUKS header), back up its header to a detached file
 * and verify it, open the device with that header and the workload secret seed file as key file,
 * put ext4 on the mapping when it has none (zeroing the blocks mkfs will use first, as the mapping is
 * integrity-protected and unwiped), and mount it. Every failure is one error, and what was opened is
 * closed again. The commands run as child processes with argument arrays (no shell) through
 * `VolumeSystem`, the seam tests observe.
 */
import { execFile } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, rm, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Logger } from '../lib/log.js';
import { SecureVolumeError, SecureVolumeUnavailableError } from './errors.js';
import {
  checkBinaryHeader,
  formatArgs,
  SECTOR_SIZE,
  UPSTREAM_PROFILE,
  verifyHeaderJson,
  type LuksProfile,
} from './secure-volume-luks.js';
import { errorCode } from '../lib/errors.js';

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one program with arguments (no shell). Resolves whatever the exit code; rejects only when it cannot start. */
export interface VolumeSystem {
  run(file: string, args: readonly string[]): Promise<CommandResult>;
}

/** The tools the sequence runs; all must be on PATH. */
export const TOOLS = Object.freeze(['cryptsetup', 'mkfs.ext4', 'mount', 'umount']);
export const STATE_MOUNT_POINT = '/state';
export const MAPPER_DIR = '/dev/mapper';
export const HEADER_DIR = '/dev/shm/contrast-cryptsetup';

export function realVolumeSystem(env: NodeJS.ProcessEnv = process.env): VolumeSystem {
  return {
    async run(file, args) {
      // cryptsetup needs its locking directory (upstream creates it before every call).
      if (file === 'cryptsetup') await mkdir('/run/cryptsetup', { recursive: true, mode: 0o755 });
      return new Promise((resolve, reject) => {
        execFile(file, [...args], { env, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
          const code = (err as { code?: unknown } | null)?.code;
          if (err !== null && typeof code !== 'number') reject(new Error(`${file}: ${err.message}`, { cause: err }));
          else resolve({ code: err === null ? 0 : (code as number), stdout, stderr });
        });
      });
    },
  };
}

/** upstream: hex(sha256(devicePath + mountPoint))[:16]. */
export function mappingName(devicePath: string, mountPoint: string): string {
  return createHash('sha256')
    .update(devicePath + mountPoint)
    .digest('hex')
    .slice(0, 16);
}

/**
 * Before anything is requested or written: the tools are on PATH and the device is a block device.
 * Throws SecureVolumeUnavailableError (the pod must not start) otherwise.
 */
export async function checkSecureVolumeAvailable(devicePath: string, pathVariable: string | undefined): Promise<void> {
  const dirs = (pathVariable ?? '').split(delimiter).filter((d) => d !== '');
  const missing: string[] = [];
  for (const tool of TOOLS) {
    const found = await Promise.any(dirs.map((d) => access(join(d, tool), fsConstants.X_OK))).then(
      () => true,
      () => false,
    );
    if (!found) missing.push(tool);
  }
  const st = await stat(devicePath).catch(() => undefined);
  const problems = [
    ...(missing.length > 0 ? [`${missing.join(', ')} not found on PATH`] : []),
    ...(st === undefined
      ? [`${devicePath} does not exist`]
      : st.isBlockDevice()
        ? []
        : [`${devicePath} is not a block device`]),
  ];
  if (problems.length > 0) {
    throw new SecureVolumeUnavailableError(
      `CRYPTSETUP_DEVICE=${devicePath}: cannot set up the encrypted volume (${problems.join('; ')}); refusing to start, so that the pod never writes to an unencrypted ${STATE_MOUNT_POINT}`,
    );
  }
}

export interface SecureVolumeOptions {
  readonly devicePath: string;
  readonly mountPoint: string;
  /** The workload secret seed file as the initializer wrote it (lowercase hex, no newline). */
  readonly keyFile: string;
  readonly logger: Logger;
  readonly system?: VolumeSystem;
  readonly profile?: LuksProfile;
  readonly mapperDir?: string;
  readonly headerDir?: string;
}

export interface OpenVolume {
  readonly mappingName: string;
  readonly mountPoint: string;
  /** Unmounts and closes the mapping. */
  close(): Promise<void>;
}

export async function openSecureVolume(opts: SecureVolumeOptions): Promise<OpenVolume> {
  const system = opts.system ?? realVolumeSystem();
  const profile = opts.profile ?? UPSTREAM_PROFILE;
  const log = opts.logger.child({ devicePath: opts.devicePath, mountPoint: opts.mountPoint });
  const name = mappingName(opts.devicePath, opts.mountPoint);
  const run = async (what: string, file: string, args: readonly string[]): Promise<string> => {
    const r = await system.run(file, args).catch((err: unknown) => {
      throw new SecureVolumeError('ERR_INIT_SECURE_PV_FAILED', `${what}: cannot run ${file}`, { cause: err });
    });
    if (r.code !== 0)
      throw new SecureVolumeError(
        'ERR_INIT_SECURE_PV_FAILED',
        `${what}: ${file} ${args[0] ?? ''} exited ${String(r.code)}: ${(r.stderr || r.stdout).trim()}`,
      );
    return r.stdout;
  };

  const key = await stat(opts.keyFile).catch(() => undefined);
  if (key === undefined || !key.isFile() || key.size === 0) {
    throw new SecureVolumeError(
      'ERR_INIT_SECURE_PV_KEY',
      `no workload secret seed at ${opts.keyFile} to use as the volume key (the Coordinator sends one only for pods with a workload secret ID)`,
    );
  }

  const luks = await system.run('cryptsetup', ['isLuks', '--verbose', opts.devicePath]);
  if (luks.code !== 0 && luks.code !== 1) {
    throw new SecureVolumeError(
      'ERR_INIT_SECURE_PV_FAILED',
      `checking whether ${opts.devicePath} holds a LUKS header: cryptsetup isLuks exited ${String(luks.code)}: ${luks.stderr.trim()}`,
    );
  }
  if (luks.code === 1) {
    // Never format a device that holds a LUKS header, even if isLuks says otherwise.
    if (await hasLuksMagic(opts.devicePath)) {
      throw new SecureVolumeError(
        'ERR_INIT_SECURE_PV_FAILED',
        `${opts.devicePath}: cryptsetup isLuks says no LUKS header, but the device starts with one; refusing to format it`,
      );
    }
    log.info('Device is not a LUKS device, formatting it');
    await run(
      `formatting ${opts.devicePath} as LUKS2`,
      'cryptsetup',
      formatArgs(profile, opts.devicePath, opts.keyFile),
    );
    log.info('Device formatted successfully');
  } else {
    log.info('Device is already a LUKS device');
  }

  const headerDir = opts.headerDir ?? HEADER_DIR;
  const headerPath = join(headerDir, `luks-header-${randomBytes(4).toString('hex')}`);
  log.info({ mappingName: name }, 'Opening LUKS device');
  try {
    await mkdir(headerDir, { recursive: true, mode: 0o700 });
    await run(`backing up the LUKS header of ${opts.devicePath}`, 'cryptsetup', [
      'luksHeaderBackup',
      opts.devicePath,
      '--header-backup-file',
      headerPath,
    ]);
    checkBinaryHeader(await readHead(headerPath), headerPath);
    const dump = await run(`reading the LUKS header backup ${headerPath}`, 'cryptsetup', [
      'luksDump',
      `--header=${headerPath}`,
      '--dump-json-metadata',
      '/dev/null',
    ]);
    verifyHeaderJson(dump, profile, opts.devicePath);
    await run(`opening ${opts.devicePath} as ${name}`, 'cryptsetup', [
      'luksOpen',
      `--header=${headerPath}`,
      `--key-file=${opts.keyFile}`,
      opts.devicePath,
      name,
    ]);
  } finally {
    await rm(headerPath, { force: true });
  }
  log.info({ mappingName: name }, 'LUKS device opened successfully');

  const mapperPath = join(opts.mapperDir ?? MAPPER_DIR, name);
  const closeMapping = async (): Promise<void> => {
    await run(`closing ${name}`, 'cryptsetup', ['luksClose', name]);
  };
  try {
    if (await isExt4(mapperPath)) {
      log.info('ext4 filesystem present on device');
    } else {
      log.info('No ext4 filesystem identified, creating new ext4 filesystem');
      const dryRun = await run(`planning ext4 on ${mapperPath}`, 'mkfs.ext4', [
        '-b',
        String(SECTOR_SIZE),
        '-F',
        '-n',
        mapperPath,
      ]);
      await zeroBlocks(mapperPath, [...superblockBackups(dryRun), 0]);
      await run(`creating ext4 on ${mapperPath}`, 'mkfs.ext4', ['-b', String(SECTOR_SIZE), mapperPath]);
      log.info('Created ext4 filesystem on device');
    }
    await mkdir(opts.mountPoint, { recursive: true, mode: 0o755 });
    await run(`mounting ${mapperPath} at ${opts.mountPoint}`, 'mount', [
      '-o',
      'sync,data=journal',
      mapperPath,
      opts.mountPoint,
    ]);
  } catch (err) {
    log.info('An error occurred, closing LUKS device');
    await closeMapping().catch((closeErr: unknown) => {
      log.error({ err: closeErr instanceof Error ? closeErr.message : String(closeErr) }, 'Closing LUKS device');
    });
    throw err instanceof SecureVolumeError
      ? err
      : new SecureVolumeError('ERR_INIT_SECURE_PV_FAILED', `setting up ext4 on ${mapperPath}`, { cause: err });
  }
  log.info('Mount point set up successfully');
  return {
    mappingName: name,
    mountPoint: opts.mountPoint,
    async close() {
      await run(`unmounting ${opts.mountPoint}`, 'umount', [opts.mountPoint]);
      await closeMapping();
    },
  };
}

async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function hasLuksMagic(devicePath: string): Promise<boolean> {
  const head = await readHead(devicePath).catch(() => Buffer.alloc(0));
  return head.subarray(0, 6).equals(Buffer.from('LUKS\xba\xbe', 'latin1'));
}

/** The ext4 magic at 1080; an unwritten block of an integrity-protected mapping reads as EIO: no ext4. */
export async function isExt4(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(2);
    await fh.read(buf, 0, 2, 1080);
    return buf.readUInt16LE(0) === 0xef53;
  } catch (err) {
    if (errorCode(err) === 'EIO') return false;
    throw err;
  } finally {
    await fh.close();
  }
}

/** Block numbers after "Superblock backups stored on blocks:" in `mkfs.ext4 -n` output (none on small volumes). */
export function superblockBackups(dryRunOutput: string): number[] {
  const at = dryRunOutput.indexOf('Superblock backups stored on blocks:');
  if (at < 0) return [];
  const list = dryRunOutput.slice(at).split(/\n\s*\n/)[0] ?? '';
  return [...list.matchAll(/\d+/g)].map((m) => Number(m[0]));
}

/** Writes zero blocks (4 KiB) at the given indices and syncs them to the device. */
async function zeroBlocks(path: string, indices: readonly number[]): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const zero = Buffer.alloc(SECTOR_SIZE);
    for (const index of indices) await fh.write(zero, 0, SECTOR_SIZE, index * SECTOR_SIZE);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}
