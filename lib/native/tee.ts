/**
 * Typed face of the TEE report ioctls in native/src/tee.c.
 *
 *   snpGetReport(device, reportData, vmpl = 0)     SNP_GET_REPORT      -> raw 1184-byte ATTESTATION_REPORT
 *   snpGetExtReport(device, reportData, vmpl = 0)  SNP_GET_EXT_REPORT  -> { report, certTable }
 *   tdxGetReport0(device, reportData)              TDX_CMD_GET_REPORT0 -> 1024-byte TDREPORT
 *
 * Devices are paths (upstream: /dev/sev-guest, /dev/tdx_guest) so tests can point them at the FUSE
 * emulators. Arguments are validated before any system call (TeeArgumentError); failures of the
 * device, kernel or firmware become TeeDeviceError with errno, firmware and VMM error (see
 * tee-errors.ts). The calls run on the libuv thread pool: an SNP request may block for about a
 * minute while the kernel retries a busy host.
 *
 * The certificate-buffer negotiation of the extended report starts with one page (or
 * `initialCertsLength`; 0 asks the kernel for the size first) and retries with the length the kernel
 * writes back together with vmm_error 1 (EIO, or success on early-2023 kernels), up to 4 calls.
 */
import { loadAddon } from './addon.js';
import { TeeArgumentError, TeeDeviceError, type TeeFailureReason } from './tee-errors.js';
import { trimSnpCertTable } from './tee-certs.js';

export { TeeArgumentError, TeeDeviceError, SnpCertTableError, errnoName, type TeeFailureReason } from './tee-errors.js';
export {
  parseSnpCertTable,
  trimSnpCertTable,
  encodeSnpCertTable,
  SNP_CERT_GUIDS,
  type SnpCertEntry,
  type SnpCertName,
} from './tee-certs.js';

export const SNP_REPORT_SIZE = 0x4a0;
export const SNP_RESPONSE_SIZE = 4000;
export const TDX_REPORT_SIZE = 1024;
export const REPORT_DATA_SIZE = 64;
/** Largest certificate buffer the kernel accepts (SEV_FW_BLOB_MAX_SIZE). */
export const SNP_MAX_CERTS_LENGTH = 0x4000;

const ENOTTY = 25;
const ETIMEDOUT = 110;
const VMM_ERR_INVALID_LEN = 1;
const VMM_ERR_BUSY = 2;

/** What native/src/tee.c resolves with. */
interface RawResult {
  errno: number;
  syscall: string;
  fwError: number;
  vmmError: number;
  attempts: number;
  certsLength: number;
  response?: Buffer;
  certs?: Buffer;
}

export interface TeeAbi {
  SNP_GET_REPORT: number;
  SNP_GET_EXT_REPORT: number;
  TDX_CMD_GET_REPORT0: number;
  snp_guest_request_ioctl: number;
  snp_report_req: number;
  snp_report_resp: number;
  snp_ext_report_req: number;
  tdx_report_req: number;
  'snp_guest_request_ioctl.exitinfo2': number;
  'snp_ext_report_req.certs_address': number;
  'snp_ext_report_req.certs_len': number;
}

interface TeeAddon {
  snpReport(
    device: string,
    reportData: Buffer,
    vmpl: number,
    extended: boolean,
    initialCertsLength: number,
  ): Promise<RawResult>;
  tdxReport0(device: string, reportData: Buffer): Promise<RawResult>;
  teeAbi(): TeeAbi;
}

export interface SnpExtReportOptions {
  /** First certificate-buffer size: a multiple of 4096 up to 16 KiB; 0 queries the size first. Default 4096. */
  initialCertsLength?: number;
}

export interface SnpExtReport {
  report: Buffer;
  /** GUID table + certificates, trimmed to the last certificate; empty if the host supplied none. */
  certTable: Buffer;
}

/** The struct sizes, offsets and ioctl numbers compiled into the addon. */
export function teeAbi(): TeeAbi {
  return loadAddon<TeeAddon>().teeAbi();
}

function checkDevice(device: unknown): string {
  if (typeof device !== 'string' || device === '' || device.includes('\0')) {
    throw new TeeArgumentError('device', `device ${JSON.stringify(device)}: expected a non-empty path`);
  }
  return device;
}

function checkReportData(reportData: unknown): Buffer {
  if (!(reportData instanceof Uint8Array) || reportData.length !== REPORT_DATA_SIZE) {
    const got = reportData instanceof Uint8Array ? `${reportData.length} bytes` : typeof reportData;
    throw new TeeArgumentError('reportData', `report data of ${got}: expected exactly ${REPORT_DATA_SIZE} bytes`);
  }
  return Buffer.from(reportData);
}

function checkVmpl(vmpl: unknown): number {
  if (typeof vmpl !== 'number' || !Number.isInteger(vmpl) || vmpl < 0 || vmpl > 3) {
    throw new TeeArgumentError('vmpl', `VMPL ${String(vmpl)}: expected an integer 0..3`);
  }
  return vmpl;
}

function checkCertsLength(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > SNP_MAX_CERTS_LENGTH || n % 4096 !== 0) {
    throw new TeeArgumentError(
      'initialCertsLength',
      `initial certificate buffer ${String(n)}: expected a multiple of 4096 in 0..16384`,
    );
  }
  return n;
}

function failure(device: string, operation: string, r: RawResult): TeeDeviceError {
  let reason: TeeFailureReason = 'io';
  if (r.syscall === 'open') reason = 'open';
  else if (r.errno === ENOTTY) reason = 'not-a-tee-device';
  else if (r.vmmError === VMM_ERR_BUSY) reason = 'vmm-busy';
  else if (r.vmmError === VMM_ERR_INVALID_LEN) reason = 'certs-length';
  // exitinfo2 is meaningful only after a completed host call (EIO, ETIMEDOUT); elsewhere it may hold
  // the kernel's 0xff "no firmware call" marker or garbage, so it is dropped.
  const trusted = r.errno === 5 || r.errno === ETIMEDOUT;
  return new TeeDeviceError({
    device,
    operation,
    syscall: r.syscall,
    errno: r.errno,
    firmwareError: trusted ? r.fwError : 0,
    vmmError: trusted ? r.vmmError : 0,
    reason,
  });
}

/** MSG_REPORT_RSP: status u32 @0, report_size u32 @4, report @0x20. */
function reportFromResponse(device: string, operation: string, resp: Buffer): Buffer {
  const status = resp.readUInt32LE(0);
  const size = resp.readUInt32LE(4);
  const base = { device, operation, syscall: 'ioctl', errno: 0, vmmError: 0 };
  if (status !== 0) throw new TeeDeviceError({ ...base, firmwareError: status, reason: 'firmware-status' });
  if (size < SNP_REPORT_SIZE || size > resp.length - 0x20) {
    throw new TeeDeviceError({
      ...base,
      firmwareError: 0,
      reason: 'bad-response',
      detail: `report_size ${size}, expected ${SNP_REPORT_SIZE}`,
    });
  }
  return Buffer.from(resp.subarray(0x20, 0x20 + SNP_REPORT_SIZE));
}

export async function snpGetReport(device: string, reportData: Uint8Array, vmpl = 0): Promise<Buffer> {
  const dev = checkDevice(device);
  const data = checkReportData(reportData);
  const level = checkVmpl(vmpl);
  const r = await loadAddon<TeeAddon>().snpReport(dev, data, level, false, 0);
  if (r.errno !== 0 || r.response === undefined) throw failure(dev, 'SNP_GET_REPORT', r);
  return reportFromResponse(dev, 'SNP_GET_REPORT', r.response);
}

export async function snpGetExtReport(
  device: string,
  reportData: Uint8Array,
  vmpl = 0,
  options: SnpExtReportOptions = {},
): Promise<SnpExtReport> {
  const dev = checkDevice(device);
  const data = checkReportData(reportData);
  const level = checkVmpl(vmpl);
  const initial = checkCertsLength(options.initialCertsLength ?? 4096);
  const r = await loadAddon<TeeAddon>().snpReport(dev, data, level, true, initial);
  if (r.errno !== 0 || r.response === undefined) throw failure(dev, 'SNP_GET_EXT_REPORT', r);
  const report = reportFromResponse(dev, 'SNP_GET_EXT_REPORT', r.response);
  return { report, certTable: trimSnpCertTable(r.certs ?? Buffer.alloc(0)) };
}

export async function tdxGetReport0(device: string, reportData: Uint8Array): Promise<Buffer> {
  const dev = checkDevice(device);
  const data = checkReportData(reportData);
  const r = await loadAddon<TeeAddon>().tdxReport0(dev, data);
  if (r.errno !== 0 || r.response?.length !== TDX_REPORT_SIZE) throw failure(dev, 'TDX_CMD_GET_REPORT0', r);
  return r.response;
}
