/**
 * Test-only issuer/validator pair for the "insecure" document format (OID 1.3.9901.2.3): JSON
 * {"reportData": b64, "hostData": b64}. Same interfaces as lib/attestation's implementations.
 */
import type { Issuer, Validator, ValidatedDocument } from '../../../lib/attestation/types.js';
import { DOCUMENT_OIDS } from '../../../lib/attestation/types.js';

export class TestAttestationError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export function insecureIssuer(hostData: Uint8Array, tamper?: (reportData: Uint8Array) => Uint8Array): Issuer & { issued: Uint8Array[] } {
  const issued: Uint8Array[] = [];
  return {
    kind: 'insecure',
    oid: DOCUMENT_OIDS.insecure,
    issued,
    issue(reportData: Uint8Array): Promise<Uint8Array> {
      const rd = tamper === undefined ? reportData : tamper(reportData);
      issued.push(Buffer.from(reportData));
      return Promise.resolve(Buffer.from(JSON.stringify({
        reportData: Buffer.from(rd).toString('base64'),
        hostData: Buffer.from(hostData).toString('base64'),
      })));
    },
  };
}

export function insecureValidator(): Validator {
  return {
    kind: 'insecure',
    oid: DOCUMENT_OIDS.insecure,
    validate(document: Uint8Array, expected: Uint8Array): Promise<ValidatedDocument> {
      let parsed: { reportData?: unknown; hostData?: unknown };
      try {
        parsed = JSON.parse(Buffer.from(document).toString('utf8')) as typeof parsed;
      } catch {
        return Promise.reject(new TestAttestationError('ERR_ATTESTATION_MALFORMED', 'insecure document: expected JSON'));
      }
      if (typeof parsed.reportData !== 'string' || typeof parsed.hostData !== 'string') {
        return Promise.reject(new TestAttestationError('ERR_ATTESTATION_MALFORMED', 'insecure document: expected reportData and hostData'));
      }
      const reportData = Buffer.from(parsed.reportData, 'base64');
      if (!reportData.equals(Buffer.from(expected))) {
        return Promise.reject(new TestAttestationError('ERR_ATTESTATION_REPORT_DATA_MISMATCH', 'insecure document: report data does not match the expected binding'));
      }
      return Promise.resolve({ kind: 'insecure', hostData: Buffer.from(parsed.hostData, 'base64'), reportData, details: {} });
    },
  };
}
