/**
 * The "insecure" document (OID 1.3.9901.2.3) of upstream's newest insecure issuer:
 * JSON `{"reportData": <base64>, "hostData": <base64>}`. No TEE vouches for it; use only when allowed.
 */
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { checkReportData } from './reportdata.js';
import { sameBytes } from './bytes.js';
import { DOCUMENT_OIDS, type Issuer, type ValidatedDocument, type Validator } from './types.js';
import { errorMessage } from '../errors.js';

export interface InsecureDocument {
  readonly reportData: Buffer;
  readonly hostData: Buffer;
}

const WHAT = 'insecure attestation document';
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function encodeInsecureDocument(doc: InsecureDocument): Buffer {
  return Buffer.from(
    JSON.stringify({ reportData: doc.reportData.toString('base64'), hostData: doc.hostData.toString('base64') }),
  );
}

export function decodeInsecureDocument(bytes: Uint8Array): InsecureDocument {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${WHAT}: not JSON: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.DOCUMENT,
      `${WHAT}: expected a JSON object with reportData and hostData`,
    );
  }
  const field = (name: string): Buffer => {
    const v = (value as Record<string, unknown>)[name];
    if (v === undefined || v === null) return Buffer.alloc(0);
    if (typeof v !== 'string' || !B64.test(v) || v.length % 4 !== 0) {
      throw new AttestationError(ATTESTATION_ERROR_CODES.DOCUMENT, `${WHAT}: ${name} is not a base64 string`);
    }
    return Buffer.from(v, 'base64');
  };
  return { reportData: field('reportData'), hostData: field('hostData') };
}

export class InsecureIssuer implements Issuer {
  readonly kind = 'insecure' as const;
  readonly oid = DOCUMENT_OIDS.insecure;

  constructor(private readonly hostData: Buffer) {}

  issue(reportData: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve().then(() => {
      checkReportData(reportData);
      return encodeInsecureDocument({ reportData: Buffer.from(reportData), hostData: this.hostData });
    });
  }
}

export class InsecureValidator implements Validator {
  readonly kind = 'insecure' as const;
  readonly oid = DOCUMENT_OIDS.insecure;

  validate(document: Uint8Array, expectedReportData: Uint8Array): Promise<ValidatedDocument> {
    return Promise.resolve().then(() => {
      const doc = decodeInsecureDocument(document);
      if (!sameBytes(doc.reportData, expectedReportData)) {
        throw new AttestationError(
          ATTESTATION_ERROR_CODES.REPORT_DATA_MISMATCH,
          `${WHAT}: reportData differs from the expected value`,
        );
      }
      return {
        kind: 'insecure' as const,
        hostData: doc.hostData,
        reportData: doc.reportData,
        details: { insecure: true },
      };
    });
  }
}
