/**
 * Error catalogue of the TEE device calls (native/tee.ts).
 *
 * - TeeArgumentError (ERR_TEE_ARGUMENT): bad input, rejected before any system call.
 * - TeeDeviceError (ERR_TEE_DEVICE): the device, kernel or firmware refused. `reason` classifies it:
 *     'not-a-tee-device'  ENOTTY: the path is not a TEE guest device (or the SNP message key was wiped)
 *     'open'              the device could not be opened (ENOENT, EACCES, ...)
 *     'firmware-status'   the ioctl succeeded but MSG_REPORT_RSP.status != 0 (firmwareError holds it)
 *     'vmm-busy'          the host kept answering BUSY (vmmError 2, usually ETIMEDOUT)
 *     'certs-length'      the certificate-buffer negotiation did not converge (vmmError 1)
 *     'bad-response'      the response is malformed (report_size out of range)
 *     'io'                any other failing ioctl (EIO with firmwareError/vmmError from exitinfo2, ...)
 * - SnpCertTableError (ERR_SNP_CERT_TABLE): a certificate table that does not follow GHCB §4.1.8.1.
 */
import { constants } from 'node:os';
import { ContrastError } from '../errors.js';

export type TeeFailureReason =
  'not-a-tee-device' | 'open' | 'firmware-status' | 'vmm-busy' | 'certs-length' | 'bad-response' | 'io';

export class TeeArgumentError extends ContrastError {
  readonly code = 'ERR_TEE_ARGUMENT';
  readonly argument: string;

  constructor(argument: string, message: string) {
    super(message);
    this.argument = argument;
  }
}

export interface TeeDeviceErrorDetails {
  device: string;
  operation: string;
  syscall: string;
  errno: number;
  firmwareError: number;
  vmmError: number;
  reason: TeeFailureReason;
  detail?: string;
}

export class TeeDeviceError extends ContrastError {
  readonly code = 'ERR_TEE_DEVICE';
  /** errno of the failing system call; 0 when the call succeeded but the response reports failure. */
  readonly errno: number;
  /** Symbolic errno ('EIO', 'ENOTTY', ...), '' when errno is 0. */
  readonly errnoCode: string;
  /** SEV firmware status (SEV_RET_*): from exitinfo2 after EIO/ETIMEDOUT, or MSG_REPORT_RSP.status. */
  readonly firmwareError: number;
  /** VMM error from exitinfo2 bits 63:32 (1 = invalid certificate length, 2 = busy). */
  readonly vmmError: number;
  readonly device: string;
  readonly operation: string;
  readonly syscall: string;
  readonly reason: TeeFailureReason;

  constructor(d: TeeDeviceErrorDetails) {
    const code = errnoName(d.errno);
    const parts: string[] = [];
    if (d.errno !== 0) parts.push(`${d.syscall} failed with ${code}`);
    if (d.firmwareError !== 0) parts.push(`firmware error 0x${d.firmwareError.toString(16)}`);
    if (d.vmmError !== 0) parts.push(`VMM error ${d.vmmError}`);
    if (d.detail !== undefined) parts.push(d.detail);
    super(`${d.operation} on ${d.device}: ${parts.join(', ')} (${d.reason})`);
    this.errno = d.errno;
    this.errnoCode = d.errno === 0 ? '' : code;
    this.firmwareError = d.firmwareError;
    this.vmmError = d.vmmError;
    this.device = d.device;
    this.operation = d.operation;
    this.syscall = d.syscall;
    this.reason = d.reason;
  }
}

export class SnpCertTableError extends ContrastError {
  readonly code = 'ERR_SNP_CERT_TABLE';
}

/** 'EIO' for 5, 'E<n>' for numbers this Node does not name. */
export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(constants.errno)) {
    if (value === errno) return name;
  }
  return `E${errno}`;
}
