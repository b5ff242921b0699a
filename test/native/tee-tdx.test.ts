import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mountEmulators } from '../emulators/harness.js';
import { tdxGetReport0, TDX_REPORT_SIZE } from '../../lib/native/tee.js';

test("TDX_CMD_GET_REPORT0 through the kernel returns a TDREPORT with the caller's report data", async (t) => {
  const mrTd = randomBytes(48);
  const mrConfigId = randomBytes(48);
  const emu = await mountEmulators({ mrTd, mrConfigId });
  t.teardown(() => emu.unmount());
  const reportData = randomBytes(64);
  const report = await tdxGetReport0(emu.tdxDevice, reportData);
  t.is(report.length, TDX_REPORT_SIZE);
  t.is(report[0], 0x81, 'REPORTTYPE TDX');
  t.deepEqual(report.subarray(0x80, 0xc0), reportData);
  t.deepEqual(report.subarray(0x210, 0x240), mrTd);
  t.deepEqual(report.subarray(0x240, 0x270), mrConfigId);
  // The hashes in REPORTMACSTRUCT cover TEE_TCB_INFO (239 bytes) and TDINFO (512 bytes).
  t.deepEqual(
    report.subarray(0x20, 0x50),
    createHash('sha384')
      .update(report.subarray(0x100, 0x100 + 239))
      .digest(),
  );
  t.deepEqual(report.subarray(0x50, 0x80), createHash('sha384').update(report.subarray(0x200, 0x400)).digest());
  t.is((await emu.stats())['tdx_report'], 1);
});
