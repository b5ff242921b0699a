/**
 * The struct sizes, offsets and ioctl numbers compiled into the addon, checked against the kernel's
 * uapi headers (Debian linux-libc-dev) with a tiny C program, and against the numbers in the spec.
 * Debian 12's linux-libc-dev (6.1) has no linux/tdx-guest.h: then only the spec's numbers are checked
 * for TDX (0xC4405401, 1088 bytes).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { teeAbi } from '../../lib/native/tee.js';

const run = promisify(execFile);

const SPEC = {
  SNP_GET_REPORT: 0xc0205300,
  SNP_GET_EXT_REPORT: 0xc0205302,
  TDX_CMD_GET_REPORT0: 0xc4405401,
  snp_guest_request_ioctl: 32,
  snp_report_req: 96,
  snp_report_resp: 4000,
  snp_ext_report_req: 112,
  tdx_report_req: 1088,
  'snp_guest_request_ioctl.exitinfo2': 0x18,
  'snp_ext_report_req.certs_address': 0x60,
  'snp_ext_report_req.certs_len': 0x68,
};

const HAS_TDX_HEADER = existsSync('/usr/include/linux/tdx-guest.h');

const PROGRAM = `
#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/sev-guest.h>
${HAS_TDX_HEADER ? '#include <linux/tdx-guest.h>' : ''}
int main(void) {
  printf("{\\"SNP_GET_REPORT\\": %lu, \\"SNP_GET_EXT_REPORT\\": %lu,", (unsigned long)SNP_GET_REPORT, (unsigned long)SNP_GET_EXT_REPORT);
  printf("\\"snp_guest_request_ioctl\\": %zu, \\"snp_report_req\\": %zu, \\"snp_report_resp\\": %zu, \\"snp_ext_report_req\\": %zu,",
         sizeof(struct snp_guest_request_ioctl), sizeof(struct snp_report_req), sizeof(struct snp_report_resp), sizeof(struct snp_ext_report_req));
  printf("\\"snp_guest_request_ioctl.exitinfo2\\": %zu, \\"snp_ext_report_req.certs_address\\": %zu, \\"snp_ext_report_req.certs_len\\": %zu",
         offsetof(struct snp_guest_request_ioctl, exitinfo2), offsetof(struct snp_ext_report_req, certs_address), offsetof(struct snp_ext_report_req, certs_len));
${HAS_TDX_HEADER ? '  printf(", \\"TDX_CMD_GET_REPORT0\\": %lu, \\"tdx_report_req\\": %zu", (unsigned long)TDX_CMD_GET_REPORT0, sizeof(struct tdx_report_req));' : ''}
  printf("}\\n");
  return 0;
}
`;

test("the addon was compiled with the spec's struct sizes and ioctl numbers", (t) => {
  t.deepEqual({ ...teeAbi() }, SPEC);
});

test('the addon matches the kernel uapi headers (linux/sev-guest.h, linux/tdx-guest.h when present)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `contrast-tee-abi-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'abi.c'), PROGRAM);
  await run('cc', ['-o', join(dir, 'abi'), join(dir, 'abi.c')]);
  const { stdout } = await run(join(dir, 'abi'));
  const fromHeaders = JSON.parse(stdout) as Record<string, number>;
  const abi = teeAbi() as unknown as Record<string, number>;
  const keys = Object.keys(fromHeaders);
  t.true(keys.length >= (HAS_TDX_HEADER ? 11 : 9));
  for (const k of keys) t.is(abi[k], fromHeaders[k], k);
});
