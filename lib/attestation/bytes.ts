/** Small byte helpers shared by the parsers. Every slice is copied, so parsed objects never pin big inputs. */
import { truncated } from './errors.js';

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** A copy of `len` bytes at `off`. */
export function copy(buf: Buffer, off: number, len: number): Buffer {
  return Buffer.from(buf.subarray(off, off + len));
}

export function isZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/** Throws a TRUNCATED error unless `buf` holds `[off, off + len)`. */
export function need(buf: Uint8Array, off: number, len: number, what: string, field: string): void {
  if (off + len > buf.length)
    throw truncated(what, buf.length, off + len, `${field} at offset 0x${off.toString(16)}, ${len} bytes`);
}

/** Constant-time comparison of equal-length buffers; false for different lengths. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
