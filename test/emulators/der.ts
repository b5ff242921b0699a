/** Minimal DER encoders for the certificate extensions of the test chains (AMD KDS and Intel PCK). */

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(value.length), value]);
}

export function integer(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || (bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

export const enumerated = (n: number): Buffer => Buffer.concat([Buffer.from([0x0a]), integer(n).subarray(1)]);
export const octets = (b: Uint8Array): Buffer => tlv(0x04, b);
export const ia5 = (s: string): Buffer => tlv(0x16, Buffer.from(s, 'ascii'));
export const sequence = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const [a = 0, b = 0, ...rest] = parts;
  const out: number[] = [a * 40 + b];
  for (const p of rest) {
    const group: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) group.unshift(0x80 | (v & 0x7f));
    out.push(...group);
  }
  return tlv(0x06, Buffer.from(out));
}
