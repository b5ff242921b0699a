/**
 * The secure-pv seam for a kernel without device-mapper: cryptsetup's header work (isLuks, luksFormat,
 * luksHeaderBackup, luksDump) and mkfs.ext4 run for real; `luksOpen` checks the key for real
 * (`open --test-passphrase` with the same detached header and key file) and then stands the mapping in
 * with a link to a second loop device; `luksClose`, `mount` and `umount` are recorded only.
 * Every command is recorded as it was asked for.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, symlink, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realVolumeSystem, type CommandResult, type VolumeSystem } from '../../../initializer/secure-volume.js';

export interface RecordingSystem extends VolumeSystem {
  readonly calls: string[][];
}

export function recordingSystem(opts: {
  mapperDir: string;
  mappingTarget: string;
  failOn?: string;
  callsFile?: string;
}): RecordingSystem {
  const real = realVolumeSystem();
  const calls: string[][] = [];
  const ok: CommandResult = { code: 0, stdout: '', stderr: '' };
  return {
    calls,
    async run(file, args) {
      calls.push([file, ...args]);
      if (opts.callsFile !== undefined) appendFileSync(opts.callsFile, JSON.stringify([file, ...args]) + '\n');
      const verb = file === 'cryptsetup' ? `cryptsetup ${args[0] ?? ''}` : file;
      if (opts.failOn !== undefined && verb === opts.failOn)
        return { code: 32, stdout: '', stderr: `${verb}: injected failure` };
      if (verb === 'cryptsetup luksOpen') {
        const [, header, keyFile, device, name] = args;
        const test = await real.run('cryptsetup', [
          'open',
          '--test-passphrase',
          header ?? '',
          keyFile ?? '',
          device ?? '',
        ]);
        if (test.code !== 0) return test;
        await symlink(opts.mappingTarget, join(opts.mapperDir, name ?? ''));
        return ok;
      }
      if (verb === 'cryptsetup luksClose') {
        await rm(join(opts.mapperDir, args[1] ?? ''), { force: true });
        return ok;
      }
      if (verb === 'mount' || verb === 'umount') return ok;
      return real.run(file, args);
    },
  };
}

export interface Loop {
  readonly device: string;
  readonly file: string;
}

/** A loop device over a fresh sparse file; detached and removed at teardown. */
export async function loopDevice(t: { teardown(fn: () => unknown): void }, mib: number): Promise<Loop> {
  const dir = await mkdtemp(join(tmpdir(), `secure-pv-${process.pid}-`));
  const file = join(dir, 'disk.img');
  writeFileSync(file, '');
  await truncate(file, mib << 20);
  const device = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
  t.teardown(async () => {
    try {
      execFileSync('losetup', ['-d', device]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  return { device, file };
}
