/**
 * X.509 helpers for attestation: load PEM bundles or DER, and build a path from a leaf through
 * intermediates to a pinned anchor, checking every signature and validity period.
 */
import { verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';
import { toPem } from '../x509/pem.js';
import { errorMessage } from '../errors.js';

const PEM_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate in `input`: one or more PEM blocks, or a single DER certificate. */
export function loadCertificates(input: string | Uint8Array, what: string): X509Certificate[] {
  try {
    // DER (an ASN.1 SEQUENCE) goes in as our own PEM block: Node's parser tries PEM first and would
    // pick up a PEM certificate embedded anywhere in the DER bytes.
    if (typeof input !== 'string' && input[0] === 0x30) return [new X509Certificate(toPem(input, 'CERTIFICATE'))];
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
    const blocks = text.match(PEM_RE);
    if (blocks !== null) return blocks.map((b) => new X509Certificate(b));
    throw new Error(typeof input === 'string' ? 'no PEM CERTIFICATE block' : 'neither DER nor PEM');
  } catch (err) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.CERTIFICATE,
      `${what}: not a certificate (expected PEM or DER X.509): ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

export function commonName(cert: X509Certificate): string {
  const m = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject);
  return m?.[1] ?? cert.subject;
}

/** The certificate's public key; a key that does not decode is a CERTIFICATE error. */
export function publicKeyOf(cert: X509Certificate, what: string): KeyObject {
  try {
    return cert.publicKey;
  } catch (err) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.CERTIFICATE,
      `${what}: public key of "${commonName(cert)}" does not decode: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

function checkValidity(cert: X509Certificate, now: Date, what: string): void {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.CERTIFICATE,
      `${what}: certificate "${commonName(cert)}" has an unreadable validity period`,
    );
  }
  if (!(now >= from && now <= to)) {
    throw new AttestationError(
      ATTESTATION_ERROR_CODES.CHAIN,
      `${what}: certificate "${commonName(cert)}" is valid from ${from.toISOString()} to ${to.toISOString()}, not at ${now.toISOString()}`,
    );
  }
}

function signs(issuer: X509Certificate, subject: X509Certificate): boolean {
  try {
    return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

export interface ChainOptions {
  readonly intermediates: readonly X509Certificate[];
  /** Pinned anchors; a path must end at one of these (compared by DER bytes). */
  readonly anchors: readonly X509Certificate[];
  readonly now: Date;
  /** Longest path, leaf included. */
  readonly maxDepth?: number;
}

/** The path leaf → … → anchor, or throws CHAIN naming what is missing. */
export function verifyChain(leaf: X509Certificate, opts: ChainOptions, what: string): X509Certificate[] {
  if (opts.anchors.length === 0)
    throw new AttestationError(ATTESTATION_ERROR_CODES.CHAIN, `${what}: no trusted root certificates configured`);
  const maxDepth = opts.maxDepth ?? 4;
  const path: X509Certificate[] = [leaf];
  checkValidity(leaf, opts.now, what);
  let current = leaf;
  while (path.length <= maxDepth) {
    const anchor = opts.anchors.find((a) => signs(a, current));
    if (anchor !== undefined) {
      if (!signs(anchor, anchor))
        throw new AttestationError(
          ATTESTATION_ERROR_CODES.CHAIN,
          `${what}: trusted root "${commonName(anchor)}" is not self-signed`,
        );
      checkValidity(anchor, opts.now, what);
      if (!current.raw.equals(anchor.raw)) path.push(anchor);
      return path;
    }
    const next = opts.intermediates.find((c) => !path.some((p) => p.raw.equals(c.raw)) && c.ca && signs(c, current));
    if (next === undefined) {
      throw new AttestationError(
        ATTESTATION_ERROR_CODES.CHAIN,
        `${what}: no trusted issuer for "${commonName(current)}" (issuer "${current.issuer.replace(/\n/g, ', ')}"): chain does not verify to a trusted root`,
      );
    }
    checkValidity(next, opts.now, what);
    path.push(next);
    current = next;
  }
  throw new AttestationError(ATTESTATION_ERROR_CODES.CHAIN, `${what}: chain longer than ${maxDepth} certificates`);
}

/** Splits a bundle into self-signed roots and the rest. */
export function splitAnchors(certs: readonly X509Certificate[]): {
  roots: X509Certificate[];
  others: X509Certificate[];
} {
  const roots: X509Certificate[] = [];
  const others: X509Certificate[] = [];
  for (const c of certs) (signs(c, c) ? roots : others).push(c);
  return { roots, others };
}

/** ECDSA verification of an IEEE-P1363 (r‖s) signature; false also when the key cannot do it. */
export function ecdsaP1363Verify(
  hash: 'sha256' | 'sha384',
  data: Uint8Array,
  key: KeyObject,
  signature: Uint8Array,
): boolean {
  try {
    return cryptoVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}
