/** REPORT_DATA binding: SHA-512(DER SubjectPublicKeyInfo ‖ peer nonce), the same for every kind. */
import { createHash } from 'node:crypto';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';

export const REPORT_DATA_SIZE = 64;

export function reportDataFor(spkiDer: Uint8Array, nonce: Uint8Array): Buffer {
  if (spkiDer.length === 0) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.INVALID_ARGUMENT,
      'report data: SubjectPublicKeyInfo is empty, expected DER bytes',
    );
  }
  return createHash('sha512').update(spkiDer).update(nonce).digest();
}

/** Checks the 64-byte shape of caller-supplied report data. */
export function checkReportData(reportData: Uint8Array, what = 'report data'): void {
  if (reportData.length !== REPORT_DATA_SIZE) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.INVALID_ARGUMENT,
      `${what}: ${reportData.length} bytes, expected ${REPORT_DATA_SIZE}`,
    );
  }
}
