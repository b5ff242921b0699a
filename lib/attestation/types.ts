/**
 * The contract between attestation and its consumers (aTLS client and server, initializer, dev Coordinator).
 * Consumers depend on these interfaces only; `lib/attestation/` provides the implementations.
 */

export type AttestationKind = 'snp' | 'tdx' | 'insecure';

/** Certificate-extension OIDs under which each kind's document travels in the aTLS certificate. */
export const DOCUMENT_OIDS: Readonly<Record<AttestationKind, string>> = Object.freeze({
  snp: '1.3.9901.2.1',
  tdx: '1.3.9901.2.2',
  insecure: '1.3.9901.2.3',
});

/** Produces an attestation document that binds `reportData` (64 bytes). */
export interface Issuer {
  readonly kind: AttestationKind;
  readonly oid: string;
  issue(reportData: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
}

/** What a validator established about a document it accepted. */
export interface ValidatedDocument {
  readonly kind: AttestationKind;
  /** The identity the Coordinator keys policies on: SNP HOST_DATA, TDX MRCONFIGID[0:32], insecure hostData. */
  readonly hostData: Uint8Array;
  readonly reportData: Uint8Array;
  /** Kind-specific facts for logs (measurement, TCB, ...), printable as JSON. */
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * Validates one kind of document. Throws a typed AttestationError (stable `code`) naming what failed,
 * e.g. report data mismatch, bad signature, untrusted chain.
 */
export interface Validator {
  readonly kind: AttestationKind;
  readonly oid: string;
  validate(document: Uint8Array, expectedReportData: Uint8Array): Promise<ValidatedDocument>;
}
