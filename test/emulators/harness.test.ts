import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { mountEmulators } from './harness.js';
import { snpGetReport } from '../../lib/native/tee.js';

const run = promisify(execFile);
const HARNESS = fileURLToPath(new URL('./harness.ts', import.meta.url));

const mounted = async (path: string): Promise<boolean> =>
  (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').some((l) => l.split(' ')[4] === path);

test('unmount removes the mount and its directory, and is idempotent', async (t) => {
  const emu = await mountEmulators();
  t.true(await mounted(emu.mountpoint));
  t.true(emu.mountpoint.includes(`-${process.pid}-`));
  await emu.unmount();
  await emu.unmount();
  t.false(await mounted(emu.mountpoint));
  t.false(existsSync(emu.mountpoint));
});

test('concurrent calls are served independently, each with its own report data', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  const data = Array.from({ length: 8 }, (_, i) => Buffer.alloc(64, i + 1));
  const reports = await Promise.all(data.map((d, i) => snpGetReport(emu.snpDevice, d, i % 4)));
  reports.forEach((r, i) => {
    t.deepEqual(r.subarray(0x50, 0x90), data[i]);
    t.is(r.readUInt32LE(0x30), i % 4);
  });
});

test('a process that exits without unmounting leaves no mount behind', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `contrast-tee-harness-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'leak.mts');
  await writeFile(
    script,
    `import { mountEmulators } from ${JSON.stringify(HARNESS)};\nconst emu = await mountEmulators();\nconsole.log(emu.mountpoint);\nprocess.exitCode = 3;\n`,
  );
  const err = await t.throwsAsync(run(process.execPath, ['--import=tsx', script]));
  const mountpoint = (err as unknown as { stdout: string }).stdout.trim();
  t.regex(mountpoint, /contrast-tee-emu-/);
  t.false(await mounted(mountpoint));
});

test('bad emulator options are rejected before anything is mounted', async (t) => {
  await t.throwsAsync(() => mountEmulators({ measurement: Buffer.alloc(47) }), {
    instanceOf: TypeError,
    message: /measurement of 47 bytes: expected 48/,
  });
  await t.throwsAsync(() => mountEmulators({ reportVersion: 9 }), {
    instanceOf: TypeError,
    message: /reportVersion 9/,
  });
});

test('the emulator unmounts itself when its parent is killed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `contrast-tee-harness-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'killed.mts');
  await writeFile(
    script,
    `import { mountEmulators } from ${JSON.stringify(HARNESS)};\nconst emu = await mountEmulators();\nconsole.log(emu.mountpoint);\nsetInterval(() => {}, 1000);\n`,
  );
  const child = spawn(process.execPath, ['--import=tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const mountpoint = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  t.true(await mounted(mountpoint));
  child.kill('SIGKILL');
  // Wait (bounded) for the emulator to notice: PR_SET_PDEATHSIG delivers SIGTERM to it.
  for (let i = 0; i < 100 && (await mounted(mountpoint)); i++) await new Promise((r) => setTimeout(r, 100));
  t.false(await mounted(mountpoint));
  for (let i = 0; i < 50 && existsSync(mountpoint); i++) await new Promise((r) => setTimeout(r, 100));
  t.false(existsSync(mountpoint));
});

test('an unknown fault name is refused by the control file', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  await t.throwsAsync(() => emu.setFault('snp', 'melted' as unknown as 'eio'), { code: 'EINVAL' });
  await emu.setFault('tsm', 'busy');
  t.is(await readFile(join(emu.mountpoint, 'control', 'tsm-fault'), 'utf8'), 'busy\n');
});
