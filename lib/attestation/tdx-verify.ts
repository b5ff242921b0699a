/**
 * TDX quote verification: quote signature with the attestation key, QE report signature with the PCK
 * leaf, the QE report's binding of the attestation key, and the PCK chain to a pinned Intel root.
 * Collateral (TCB info, QE identity, CRLs) is verifier policy and not checked here.
 */
import { createHash, createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { isZero, sameBytes } from './bytes.js';
import { commonName, ecdsaP1363Verify, loadCertificates, publicKeyOf, verifyChain } from './certs.js';
import type { TdxQuote } from './tdx-quote.js';

export function attestationPublicKey(raw: Buffer): KeyObject {
  const b64u = (b: Buffer): string => b.toString('base64url');
  try {
    return createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: b64u(raw.subarray(0, 32)), y: b64u(raw.subarray(32, 64)) },
      format: 'jwk',
    });
  } catch (err) {
    throw new AttestationError(ATTESTATION_ERROR_CODES.SIGNATURE, 'TDX quote: attestation key is not a P-256 point', {
      cause: err,
    });
  }
}

/** The PEM certificates of the quote's PCK chain (a trailing NUL is tolerated). */
export function pckCertificates(quote: TdxQuote): X509Certificate[] {
  const text = quote.pckChain.toString('latin1').replace(/\0+$/, '');
  return loadCertificates(text, 'TDX quote PCK certificate chain');
}

export interface TdxVerifyOptions {
  readonly anchors: readonly X509Certificate[];
  readonly now: Date;
}

export function verifyTdxQuote(quote: TdxQuote, opts: TdxVerifyOptions): { chain: readonly X509Certificate[] } {
  const key = attestationPublicKey(quote.attestationKey);
  if (!ecdsaP1363Verify('sha256', quote.raw.subarray(0, quote.signedEnd), key, quote.signature)) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.SIGNATURE,
      `TDX quote: signature over bytes [0x0, 0x${quote.signedEnd.toString(16)}) does not verify with the attestation key`,
    );
  }
  const certs = pckCertificates(quote);
  const leaf = certs[0];
  if (leaf === undefined)
    throw new AttestationError(ATTESTATION_ERROR_CODES.CHAIN, 'TDX quote: PCK certificate chain is empty');
  if (!commonName(leaf).startsWith('Intel SGX PCK Certificate')) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.CHAIN,
      `TDX quote: first PCK chain certificate is "${commonName(leaf)}", expected "Intel SGX PCK Certificate"`,
    );
  }
  if (
    !ecdsaP1363Verify('sha256', quote.qeReport.raw, publicKeyOf(leaf, 'TDX PCK certificate'), quote.qeReportSignature)
  ) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.SIGNATURE,
      'TDX quote: QE report signature does not verify with the PCK certificate key',
    );
  }
  const binding = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
  const rd = quote.qeReport.reportData;
  if (!sameBytes(rd.subarray(0, 32), binding) || !isZero(rd.subarray(32))) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.QE_BINDING,
      'TDX quote: QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ zeros',
    );
  }
  const chain = verifyChain(
    leaf,
    { intermediates: certs.slice(1), anchors: opts.anchors, now: opts.now, maxDepth: 3 },
    'TDX PCK chain',
  );
  return { chain };
}
