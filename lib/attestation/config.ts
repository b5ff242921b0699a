/**
 * Attestation configuration, read once at the edge from the environment.
 *
 * CONTRAST_ATTESTATION                 auto | snp | tdx | insecure (default auto)
 * CONTRAST_SNP_DEVICE                  default /dev/sev-guest
 * CONTRAST_TDX_DEVICE                  default /dev/tdx_guest
 * CONTRAST_TSM_REPORT_DIR              default /sys/kernel/config/tsm/report
 * CONTRAST_ALLOW_INSECURE_ATTESTATION  boolean (default false); the kernel flag
 *                                      contrast.allow_insecure_attestation=1 also allows it
 * CONTRAST_INSECURE_HOST_DATA          64 hex characters (32 bytes) for insecure documents
 * CONTRAST_KDS_URL                     AMD key server base URL (default https://kdsintf.amd.com)
 * CONTRAST_KDS_TIMEOUT                 bound on fetching missing SNP certificates; 0 disables (default 5s)
 */
import type { EnvReader } from '../config.js';

export type AttestationMode = 'auto' | 'snp' | 'tdx' | 'insecure';

export interface AttestationConfig {
  readonly mode: AttestationMode;
  readonly snpDevice: string;
  readonly tdxDevice: string;
  readonly tsmReportDir: string;
  readonly allowInsecure: boolean;
  readonly insecureHostData?: Buffer;
  readonly kernelCmdlinePath: string;
  readonly cpuinfoPath: string;
  /** VMPL to request (configfs privlevel / ioctl vmpl); undefined: the kernel's default (0). */
  readonly vmpl?: number;
  readonly kdsBaseUrl: string;
  /** 0 disables fetching certificates the host did not supply. */
  readonly kdsTimeoutMs: number;
}

export const ATTESTATION_DEFAULTS = Object.freeze({
  snpDevice: '/dev/sev-guest',
  tdxDevice: '/dev/tdx_guest',
  tsmReportDir: '/sys/kernel/config/tsm/report',
  kernelCmdlinePath: '/proc/cmdline',
  cpuinfoPath: '/proc/cpuinfo',
  kdsBaseUrl: 'https://kdsintf.amd.com',
  kdsTimeout: '5s',
});

/** Kernel command-line flag that allows insecure attestation (upstream's name). */
export const INSECURE_CMDLINE_FLAG = 'contrast.allow_insecure_attestation=1';

/** Reads the attestation variables; problems go into `reader` (the caller calls `finish`). */
export function readAttestationConfig(reader: EnvReader): AttestationConfig {
  const mode = reader.oneOf<AttestationMode>('CONTRAST_ATTESTATION', ['auto', 'snp', 'tdx', 'insecure'], 'auto');
  const path = (name: string, fallback: string): string => {
    const v = reader.string(name, fallback);
    if (!v.startsWith('/')) reader.problem(`${name}=${v}: expected an absolute path`);
    return v;
  };
  const snpDevice = path('CONTRAST_SNP_DEVICE', ATTESTATION_DEFAULTS.snpDevice);
  const tdxDevice = path('CONTRAST_TDX_DEVICE', ATTESTATION_DEFAULTS.tdxDevice);
  const tsmReportDir = path('CONTRAST_TSM_REPORT_DIR', ATTESTATION_DEFAULTS.tsmReportDir);
  const allowInsecure = reader.flag('CONTRAST_ALLOW_INSECURE_ATTESTATION');
  let insecureHostData: Buffer | undefined;
  const hostHex = reader.optional('CONTRAST_INSECURE_HOST_DATA');
  if (hostHex !== undefined) {
    if (/^[0-9a-fA-F]{64}$/.test(hostHex)) insecureHostData = Buffer.from(hostHex, 'hex');
    else reader.problem(`CONTRAST_INSECURE_HOST_DATA=${hostHex}: expected 64 hex characters (32 bytes)`);
  }
  const kdsBaseUrl = reader.string('CONTRAST_KDS_URL', ATTESTATION_DEFAULTS.kdsBaseUrl);
  if (!/^https?:\/\/[^\s/]+/.test(kdsBaseUrl))
    reader.problem(`CONTRAST_KDS_URL=${kdsBaseUrl}: expected an http(s) URL`);
  const kdsTimeoutMs = reader.duration('CONTRAST_KDS_TIMEOUT', ATTESTATION_DEFAULTS.kdsTimeout);
  return {
    mode,
    snpDevice,
    tdxDevice,
    tsmReportDir,
    allowInsecure,
    ...(insecureHostData !== undefined ? { insecureHostData } : {}),
    kernelCmdlinePath: ATTESTATION_DEFAULTS.kernelCmdlinePath,
    cpuinfoPath: ATTESTATION_DEFAULTS.cpuinfoPath,
    kdsBaseUrl: kdsBaseUrl.replace(/\/+$/, ''),
    kdsTimeoutMs,
  };
}
