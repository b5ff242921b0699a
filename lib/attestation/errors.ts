/**
 * The attestation error catalogue: one class, one stable `code` per kind of failure. Messages name the
 * input (which report, which field, which offset) and what was expected.
 */
import { ContrastError } from '../errors.js';

export const ATTESTATION_ERROR_CODES = {
  /** Input shorter than its layout or its own length fields need. */
  TRUNCATED: 'ERR_ATTESTATION_TRUNCATED',
  /** A field holds a value the format does not allow (reserved bits, bad type, bad version). */
  FORMAT: 'ERR_ATTESTATION_FORMAT',
  /** A version this implementation does not read. */
  UNSUPPORTED_VERSION: 'ERR_ATTESTATION_UNSUPPORTED_VERSION',
  /** A protobuf or JSON document that does not decode. */
  DOCUMENT: 'ERR_ATTESTATION_DOCUMENT',
  /** A signature over a report, quote or QE report does not verify. */
  SIGNATURE: 'ERR_ATTESTATION_SIGNATURE',
  /** A certificate chain does not lead to a trusted anchor, or a certificate is unusable. */
  CHAIN: 'ERR_ATTESTATION_CHAIN',
  /** A certificate or its extensions do not parse. */
  CERTIFICATE: 'ERR_ATTESTATION_CERTIFICATE',
  /** VCEK/VLEK TCB, hardware id or product disagree with the report. */
  TCB_MISMATCH: 'ERR_ATTESTATION_TCB_MISMATCH',
  /** The QE report does not bind the attestation key. */
  QE_BINDING: 'ERR_ATTESTATION_QE_BINDING',
  /** The report data differs from the expected value. */
  REPORT_DATA_MISMATCH: 'ERR_ATTESTATION_REPORT_DATA_MISMATCH',
  /** A caller passed an argument of the wrong shape (e.g. report data not 64 bytes). */
  INVALID_ARGUMENT: 'ERR_ATTESTATION_INVALID_ARGUMENT',
  /** No TEE interface is available and insecure attestation is not allowed. */
  NO_PLATFORM: 'ERR_ATTESTATION_NO_PLATFORM',
  /** Insecure attestation was requested but not allowed. */
  INSECURE_NOT_ALLOWED: 'ERR_ATTESTATION_INSECURE_NOT_ALLOWED',
  /** Reading from a TEE interface (configfs-tsm, device) failed. */
  DEVICE: 'ERR_ATTESTATION_DEVICE',
  /** Another writer changed a configfs-tsm entry during a request. */
  GENERATION: 'ERR_ATTESTATION_GENERATION',
  /** Fetching certificates from the key server failed. */
  FETCH: 'ERR_ATTESTATION_FETCH',
} as const;

export type AttestationErrorCode = (typeof ATTESTATION_ERROR_CODES)[keyof typeof ATTESTATION_ERROR_CODES];

export class AttestationError extends ContrastError {
  readonly code: AttestationErrorCode;

  constructor(code: AttestationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const C = ATTESTATION_ERROR_CODES;

/** `what` is shorter than needed. */
export function truncated(what: string, size: number, needed: number, detail = ''): AttestationError {
  return new AttestationError(
    C.TRUNCATED,
    `${what}: ${size} bytes, expected at least ${needed}${detail === '' ? '' : ` (${detail})`}`,
  );
}

/** A field at `offset` has an unexpected value. */
export function badField(what: string, field: string, offset: number, got: string, expected: string): AttestationError {
  return new AttestationError(
    C.FORMAT,
    `${what}: ${field} at offset 0x${offset.toString(16)} is ${got}, expected ${expected}`,
  );
}
