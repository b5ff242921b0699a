/**
 * Just enough DER for certificates of a fixed shape, so that neither the aTLS client path nor the
 * Coordinator's per-connection path needs an ASN.1 library: writing the aTLS, nonce CA and mesh
 * certificates, reading the distinguished name in a CertificateRequest and a peer certificate's fields.
 */
import { ContrastError } from '../errors.js';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with the given tag and content. */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(TAG.SEQUENCE, ...items);
export const set = (...items: Uint8Array[]): Buffer => tlv(TAG.SET, ...items);
/** [n] EXPLICIT (constructed, context-specific). */
export const explicit = (n: number, ...items: Uint8Array[]): Buffer => tlv(0xa0 | n, ...items);

/** A non-negative INTEGER from big-endian magnitude bytes (minimal, with a 0 byte where the top bit is set). */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  const pad = m.length === 0 || ((m[0] ?? 0) & 0x80) !== 0;
  return tlv(TAG.INTEGER, pad ? Buffer.from([0]) : Buffer.alloc(0), m);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new TypeError(`OID ${dotted}: expected dotted decimal arcs`);
    return Number(a);
  });
  const [first = 0, second = 0, ...rest] = arcs;
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

/** [n] IMPLICIT of a primitive type (context-specific, primitive). */
export const implicit = (n: number, content: Uint8Array): Buffer => tlv(0x80 | n, content);

export const boolean = (v: boolean): Buffer => tlv(TAG.BOOLEAN, Buffer.from([v ? 0xff : 0x00]));
export const octetString = (b: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, b);
/** BIT STRING with no unused bits. */
export const bitString = (b: Uint8Array): Buffer => tlv(TAG.BIT_STRING, Buffer.from([0]), b);
export const printableString = (s: string): Buffer => tlv(TAG.PRINTABLE_STRING, Buffer.from(s, 'latin1'));
export const utf8String = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));

/** X.509 Time: UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5), whole seconds. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${digits.slice(2)}Z`, 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${digits}Z`, 'latin1'));
}

/** Input that is not the well-formed DER expected at that place (untrusted certificates end here). */
export class DerError extends ContrastError {
  readonly code = 'ERR_DER_MALFORMED';
}

export interface Element {
  readonly tag: number;
  readonly content: Buffer;
  /** Offset just past this element in the buffer it was read from. */
  readonly end: number;
}

/** Reads one element at `offset` (definite lengths only, as DER requires). */
export function readElement(buf: Buffer, offset = 0): Element {
  if (offset + 2 > buf.length) throw new DerError(`truncated DER at offset ${offset}`);
  const tag = buf[offset] ?? 0;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at offset ${offset}`);
  let len = buf[offset + 1] ?? 0;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > buf.length) throw new DerError(`bad DER length at offset ${offset}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] ?? 0);
    start += n;
  }
  if (start + len > buf.length) throw new DerError(`DER length ${len} at offset ${offset} runs past the end`);
  return { tag, content: buf.subarray(start, start + len), end: start + len };
}

/** All elements of a constructed value's content. */
export function readChildren(content: Buffer): Element[] {
  const out: Element[] = [];
  for (let off = 0; off < content.length;) {
    const e = readElement(content, off);
    out.push(e);
    off = e.end;
  }
  return out;
}

/** Reads exactly one element of the given tag spanning all of `buf`. */
export function readWhole(buf: Buffer, tag: number, what: string): Element {
  const e = readElement(buf);
  if (e.tag !== tag) throw new DerError(`${what}: tag 0x${e.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  if (e.end !== buf.length) throw new DerError(`${what}: ${buf.length - e.end} trailing bytes`);
  return e;
}

/** The text of a directory string (UTF8String, PrintableString, IA5String, T61String, BMPString). */
export function directoryString(e: Element): string {
  switch (e.tag) {
    case TAG.UTF8_STRING:
      return e.content.toString('utf8');
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.T61_STRING:
      return e.content.toString('latin1');
    case TAG.BMP_STRING: {
      if (e.content.length % 2 !== 0)
        throw new DerError(`BMPString of ${e.content.length} bytes: expected an even length`);
      const le = Buffer.from(e.content);
      le.swap16();
      return le.toString('utf16le');
    }
    default:
      throw new DerError(`tag 0x${e.tag.toString(16)}: expected a directory string`);
  }
}

/** Decodes an OBJECT IDENTIFIER's content to dotted form. */
export function oidString(content: Buffer): string {
  const arcs: number[] = [];
  let v = 0;
  for (const b of content) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}

/** The values of attribute `type` in a DER Name (SEQUENCE OF SET OF SEQUENCE { OID, value }), in order. */
export function nameAttributes(der: Buffer, type: string): string[] {
  const name = readWhole(der, TAG.SEQUENCE, 'Name');
  const values: string[] = [];
  for (const rdn of readChildren(name.content)) {
    if (rdn.tag !== TAG.SET) throw new DerError('Name: expected SET (relative distinguished name)');
    for (const atv of readChildren(rdn.content)) {
      if (atv.tag !== TAG.SEQUENCE) throw new DerError('Name: expected SEQUENCE (attribute type and value)');
      const [t, value, ...extra] = readChildren(atv.content);
      if (t === undefined || value === undefined || extra.length > 0 || t.tag !== TAG.OID)
        throw new DerError('Name: expected { OID, value }');
      if (oidString(t.content) === type) values.push(directoryString(value));
    }
  }
  return values;
}
