/**
 * The protobuf wire-format writer (with reader.ts, the project's one protobuf codec; no protobuf library
 * is loaded at run time, so the issuing path of the initializer stays small): varints (u32, enum/int32,
 * u64 as bigint), fixed 32/64-bit values, length-delimited bytes, strings and nested messages, and
 * `map<string, bytes>` entries. Every method writes its field unconditionally; which fields are left out
 * (proto3 zero values) is the caller's rule, as in the document encoders. The output equals protobufjs'
 * (and Go's) encoding of the same fields in the same order; test/protobuf and the documents' tests
 * compare both byte for byte.
 */

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
const WIRE_I64 = 1;
const WIRE_I32 = 5;

/** Appends `v` (0 ≤ v < 2^64) as a base-128 varint. */
function pushVarint(out: number[], v: bigint): void {
  let x = v;
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
}

/** Appends a varint of a 32-bit unsigned number without going through bigint (the common case). */
function pushVarint32(out: number[], v: number): void {
  let x = v >>> 0;
  while (x >= 0x80) {
    out.push((x & 0x7f) | 0x80);
    x >>>= 7;
  }
  out.push(x);
}

/** One message under construction; `finish()` returns its bytes. Nest with `message(field, sub)`. */
export class ProtoWriter {
  private readonly parts: Buffer[] = [];
  private head: number[] = [];
  private size = 0;

  private flushHead(): void {
    if (this.head.length === 0) return;
    const b = Buffer.from(this.head);
    this.parts.push(b);
    this.size += b.length;
    this.head = [];
  }

  private key(field: number, wireType: number): void {
    pushVarint32(this.head, ((field << 3) | wireType) >>> 0);
  }

  /** `uint32` field; like protobufjs, the value is taken modulo 2^32 (`v >>> 0`). */
  uint32(field: number, v: number): this {
    this.key(field, WIRE_VARINT);
    pushVarint32(this.head, v);
    return this;
  }

  /** `int32` or enum field; negative values are sign-extended to ten bytes, as protobuf requires. */
  int32(field: number, v: number): this {
    this.key(field, WIRE_VARINT);
    const x = v | 0;
    if (x >= 0) pushVarint32(this.head, x);
    else pushVarint(this.head, BigInt.asUintN(64, BigInt(x)));
    return this;
  }

  /** `uint64` field; the value is taken modulo 2^64. */
  uint64(field: number, v: bigint): this {
    this.key(field, WIRE_VARINT);
    pushVarint(this.head, BigInt.asUintN(64, v));
    return this;
  }

  /** `fixed32` field; the value is taken modulo 2^32. */
  fixed32(field: number, v: number): this {
    this.key(field, WIRE_I32);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.head.push(...b);
    return this;
  }

  /** `fixed64` field; the value is taken modulo 2^64. */
  fixed64(field: number, v: bigint): this {
    this.key(field, WIRE_I64);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, v));
    this.head.push(...b);
    return this;
  }

  /** `bytes` field (an empty value is written too: a key and length 0). */
  bytes(field: number, b: Uint8Array): this {
    this.key(field, WIRE_BYTES);
    pushVarint32(this.head, b.length);
    this.flushHead();
    const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    this.parts.push(buf);
    this.size += buf.length;
    return this;
  }

  /** `string` field, UTF-8. */
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  /** Nested message field (an empty message is written too: a key and length 0). */
  message(field: number, sub: ProtoWriter): this {
    return this.bytes(field, sub.finish());
  }

  /** `map<string, bytes>` field: one entry message (key = 1, value = 2, both always written) per key, in `Object.keys` order. */
  stringBytesMap(field: number, map: Readonly<Record<string, Uint8Array>>): this {
    for (const k of Object.keys(map)) {
      const v = map[k];
      if (v === undefined) continue;
      this.message(field, new ProtoWriter().string(1, k).bytes(2, v));
    }
    return this;
  }

  /** The message's bytes so far. */
  finish(): Buffer {
    this.flushHead();
    return this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.size);
  }
}
