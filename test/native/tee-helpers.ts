/** Signature checks for the TEE tests, written against the spec (node:crypto only). */
import { createPublicKey, createVerify, X509Certificate, type KeyObject } from 'node:crypto';

/** AMD's little-endian 72-byte R and S -> IEEE-P1363 r||s (48 + 48 bytes, big-endian). */
export function snpSignatureP1363(report: Buffer): Buffer {
  const le = (off: number): Buffer =>
    Buffer.from(report.subarray(off, off + 72))
      .reverse()
      .subarray(24);
  return Buffer.concat([le(0x2a0), le(0x2e8)]);
}

export function verifySnpReport(report: Buffer, vcekDer: Buffer): boolean {
  const key = new X509Certificate(vcekDer).publicKey;
  return createVerify('sha384')
    .update(report.subarray(0, 0x2a0))
    .verify({ key, dsaEncoding: 'ieee-p1363' }, snpSignatureP1363(report));
}

/** A raw P-256 public key (x||y) as a KeyObject. */
export function p256Key(xy: Buffer): KeyObject {
  return createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: xy.subarray(0, 32).toString('base64url'),
      y: xy.subarray(32, 64).toString('base64url'),
    },
    format: 'jwk',
  });
}

export function verifyP256(data: Buffer, sig: Buffer, key: KeyObject): boolean {
  return createVerify('sha256').update(data).verify({ key, dsaEncoding: 'ieee-p1363' }, sig);
}

export interface ParsedQuoteV4 {
  version: number;
  reportData: Buffer;
  mrTd: Buffer;
  mrConfigId: Buffer;
  signedLength: number;
  signature: Buffer;
  attestationKey: Buffer;
  qeReport: Buffer;
  qeReportSignature: Buffer;
  qeAuthData: Buffer;
  pckChainPem: string;
}

/** Splits a DCAP v4 quote by its length fields (spec §2.5). */
export function parseQuoteV4(q: Buffer): ParsedQuoteV4 {
  const n = q.readUInt32LE(0x278);
  const s = 0x27c;
  const certSize = q.readUInt32LE(s + 130);
  const qe = s + 134;
  const authSize = q.readUInt16LE(qe + 384 + 64);
  const auth = qe + 384 + 64 + 2;
  const inner = auth + authSize;
  const chainSize = q.readUInt32LE(inner + 2);
  if (q.readUInt16LE(s + 128) !== 6 || q.readUInt16LE(inner) !== 5 || s + n > q.length || 134 + certSize !== n) {
    throw new Error('malformed quote');
  }
  return {
    version: q.readUInt16LE(0),
    reportData: q.subarray(0x238, 0x278),
    mrTd: q.subarray(0xb8, 0xe8),
    mrConfigId: q.subarray(0xe8, 0x118),
    signedLength: n,
    signature: q.subarray(s, s + 64),
    attestationKey: q.subarray(s + 64, s + 128),
    qeReport: q.subarray(qe, qe + 384),
    qeReportSignature: q.subarray(qe + 384, qe + 448),
    qeAuthData: q.subarray(auth, auth + authSize),
    pckChainPem: q
      .subarray(inner + 6, inner + 6 + chainSize)
      .toString('latin1')
      .replace(/\0+$/, ''),
  };
}
