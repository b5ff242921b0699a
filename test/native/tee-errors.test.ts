import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountEmulators, type EmulatorFault } from '../emulators/harness.js';
import {
  snpGetExtReport,
  snpGetReport,
  tdxGetReport0,
  TeeArgumentError,
  TeeDeviceError,
} from '../../lib/native/tee.js';

const rd = (): Buffer => randomBytes(64);

test('every injected SNP fault maps to its typed error', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  const rows: { fault: EmulatorFault; errnoCode: string; firmwareError: number; vmmError: number; reason: string }[] = [
    { fault: 'firmware', errnoCode: '', firmwareError: 0x16, vmmError: 0, reason: 'firmware-status' },
    { fault: 'busy', errnoCode: 'ETIMEDOUT', firmwareError: 0, vmmError: 2, reason: 'vmm-busy' },
    { fault: 'eio', errnoCode: 'EIO', firmwareError: 0x13, vmmError: 0, reason: 'io' },
  ];
  for (const row of rows) {
    await emu.setFault('snp', row.fault);
    for (const [op, call] of [
      ['SNP_GET_REPORT', () => snpGetReport(emu.snpDevice, rd())],
      ['SNP_GET_EXT_REPORT', () => snpGetExtReport(emu.snpDevice, rd())],
    ] as const) {
      const err = await t.throwsAsync(call, { instanceOf: TeeDeviceError }, `${row.fault} ${op}`);
      t.like(
        err,
        {
          code: 'ERR_TEE_DEVICE',
          errnoCode: row.errnoCode,
          firmwareError: row.firmwareError,
          vmmError: row.vmmError,
          reason: row.reason,
          device: emu.snpDevice,
          operation: op,
        },
        `${row.fault} ${op}`,
      );
    }
  }
  await emu.setFault('snp', 'none');
  t.is((await snpGetReport(emu.snpDevice, Buffer.alloc(64, 1))).length, 0x4a0, 'recovers after the fault is cleared');
});

test('injected TDX faults map to typed errors', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  for (const [fault, errnoCode] of [
    ['eio', 'EIO'],
    ['firmware', 'EIO'],
    ['busy', 'EBUSY'],
  ] as const) {
    await emu.setFault('tdx', fault);
    const err = await t.throwsAsync(() => tdxGetReport0(emu.tdxDevice, rd()), { instanceOf: TeeDeviceError });
    t.like(
      err,
      { code: 'ERR_TEE_DEVICE', errnoCode, reason: 'io', operation: 'TDX_CMD_GET_REPORT0', syscall: 'ioctl' },
      fault,
    );
  }
});

test('a regular file is not a TEE device: ENOTTY as a typed error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `contrast-tee-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'not-a-device');
  await writeFile(file, 'x');
  for (const call of [
    () => snpGetReport(file, rd()),
    () => snpGetExtReport(file, rd()),
    () => tdxGetReport0(file, rd()),
  ]) {
    const err = await t.throwsAsync(call, { instanceOf: TeeDeviceError });
    t.like(err, {
      code: 'ERR_TEE_DEVICE',
      errno: 25,
      errnoCode: 'ENOTTY',
      reason: 'not-a-tee-device',
      device: file,
      syscall: 'ioctl',
    });
  }
  // The emulated SNP device does not answer the TDX command, and vice versa: ENOTTY like the kernel.
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  await t.throwsAsync(() => tdxGetReport0(emu.snpDevice, rd()), { instanceOf: TeeDeviceError, message: /ENOTTY/ });
  await t.throwsAsync(() => snpGetReport(emu.tdxDevice, rd()), { instanceOf: TeeDeviceError, message: /ENOTTY/ });
});

test('a missing device fails at open with its errno', async (t) => {
  const err = await t.throwsAsync(() => snpGetReport(`/nonexistent-${process.pid}/sev-guest`, rd()), {
    instanceOf: TeeDeviceError,
  });
  t.like(err, { errnoCode: 'ENOENT', syscall: 'open', reason: 'open' });
});

test('bad arguments are rejected before any system call', async (t) => {
  const rows: { name: string; call: () => Promise<unknown>; argument: string }[] = [
    { name: 'short report data', call: () => snpGetReport('/dev/null', Buffer.alloc(63)), argument: 'reportData' },
    { name: 'long report data', call: () => tdxGetReport0('/dev/null', Buffer.alloc(65)), argument: 'reportData' },
    {
      name: 'report data not bytes',
      call: () => snpGetReport('/dev/null', 'x'.repeat(64) as unknown as Buffer),
      argument: 'reportData',
    },
    { name: 'VMPL 4', call: () => snpGetReport('/dev/null', Buffer.alloc(64), 4), argument: 'vmpl' },
    { name: 'VMPL -1', call: () => snpGetExtReport('/dev/null', Buffer.alloc(64), -1), argument: 'vmpl' },
    { name: 'VMPL 1.5', call: () => snpGetReport('/dev/null', Buffer.alloc(64), 1.5), argument: 'vmpl' },
    { name: 'empty device', call: () => snpGetReport('', Buffer.alloc(64)), argument: 'device' },
    {
      name: 'certs length not page-aligned',
      call: () => snpGetExtReport('/dev/null', Buffer.alloc(64), 0, { initialCertsLength: 100 }),
      argument: 'initialCertsLength',
    },
    {
      name: 'certs length over 16 KiB',
      call: () => snpGetExtReport('/dev/null', Buffer.alloc(64), 0, { initialCertsLength: 20480 }),
      argument: 'initialCertsLength',
    },
  ];
  for (const row of rows) {
    const err = await t.throwsAsync(row.call, { instanceOf: TeeArgumentError }, row.name);
    t.is(err.code, 'ERR_TEE_ARGUMENT', row.name);
    t.is(err.argument, row.argument, row.name);
  }
});
