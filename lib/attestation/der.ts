/** Just enough DER to read the AMD VCEK/VLEK extension values (INTEGER, IA5String). */
import { AttestationError, ATTESTATION_ERROR_CODES } from './errors.js';

function tlv(buf: Uint8Array, tag: number, what: string): Uint8Array {
  const fail = (why: string): AttestationError => new AttestationError(ATTESTATION_ERROR_CODES.CERTIFICATE, `${what}: ${why}`);
  if (buf.length < 2) throw fail(`${buf.length} bytes, expected a DER value`);
  if (buf[0] !== tag) throw fail(`tag 0x${(buf[0] ?? 0).toString(16)}, expected 0x${tag.toString(16)}`);
  let len = buf[1] ?? 0;
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 2 || buf.length < 2 + n) throw fail('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[2 + i] ?? 0);
    off = 2 + n;
  }
  if (off + len !== buf.length) throw fail(`DER length ${len} does not match ${buf.length - off} content bytes`);
  return buf.subarray(off);
}

/** A non-negative DER INTEGER of up to 6 bytes (AMD SPLs may be 2 bytes: 00 D9). */
export function derUnsignedInteger(buf: Uint8Array, what: string): number {
  const content = tlv(buf, 0x02, what);
  if (content.length === 0 || content.length > 7 || ((content[0] ?? 0) & 0x80) !== 0) {
    throw new AttestationError(ATTESTATION_ERROR_CODES.CERTIFICATE, `${what}: expected a small non-negative INTEGER`);
  }
  let v = 0;
  for (const b of content) v = v * 256 + b;
  return v;
}

export function derIa5String(buf: Uint8Array, what: string): string {
  return Buffer.from(tlv(buf, 0x16, what)).toString('latin1');
}
