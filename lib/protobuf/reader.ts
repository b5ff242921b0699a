/**
 * The protobuf wire-format reader (with writer.ts, the project's one protobuf codec; no protobuf library
 * is loaded at run time). Reads keys, varints, length-delimited fields and fixed 32/64-bit values from
 * untrusted bytes and skips unknown fields of every wire type, groups included. Anything that is not a
 * well-formed message (truncation, a length past the end, field number 0, wire types 6 and 7, a varint
 * longer than ten bytes or past 2^64, an unclosed or mismatched group, groups nested too deep) is a
 * ProtobufError, never a RangeError or a hang: test/protobuf/reader-fuzz.test.ts feeds it random bytes.
 */
import { ContrastError } from '../errors.js';

/** Bytes that are not a well-formed protobuf message. */
export class ProtobufError extends ContrastError {
  readonly code = 'ERR_PROTOBUF_MALFORMED';
}

export const WIRE = { VARINT: 0, I64: 1, LEN: 2, START_GROUP: 3, END_GROUP: 4, I32: 5 } as const;

const MAX_GROUP_DEPTH = 64;

/** A cursor over one message's bytes. Values of `bytes()` are views into the input, not copies. */
export class ProtoReader {
  pos = 0;
  private readonly buf: Buffer;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.buf.length;
  }

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** A base-128 varint as a bigint below 2^64. */
  varint(): bigint {
    const start = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new ProtobufError(`truncated varint at offset ${start}`);
      if (i < 4) lo += (b & 0x7f) * 2 ** (7 * i);
      else if (i === 4) {
        lo += (b & 0x0f) * 2 ** 28;
        hi += (b & 0x70) >> 4;
      } else if (i < 9) hi += (b & 0x7f) * 2 ** (7 * i - 32);
      else if (b > 1) throw new ProtobufError(`varint at offset ${start} overflows 64 bits`);
      else hi += b * 2 ** 31;
      if ((b & 0x80) === 0) return (BigInt(hi) << 32n) | BigInt(lo);
    }
    throw new ProtobufError(`varint longer than 10 bytes at offset ${start}`);
  }

  /** A varint's low 32 bits, unsigned (`uint32`, as protobufjs and Go read it). */
  uint32(): number {
    return Number(BigInt.asUintN(32, this.varint()));
  }

  /** A varint's low 32 bits, signed (`int32`, enums). */
  int32(): number {
    return Number(BigInt.asIntN(32, this.varint()));
  }

  /** A varint as unsigned 64-bit (`uint64`). */
  uint64(): bigint {
    return this.varint();
  }

  /** A length-delimited field's content (a view into the input). */
  bytes(): Buffer {
    const start = this.pos;
    const len = this.varint();
    if (len > BigInt(this.buf.length - this.pos))
      throw new ProtobufError(`length ${len} at offset ${start} runs past the end`);
    const end = this.pos + Number(len);
    const out = this.buf.subarray(this.pos, end);
    this.pos = end;
    return out;
  }

  string(): string {
    return this.bytes().toString('utf8');
  }

  fixed32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  fixed64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** The next field's key: number (1 .. 2^29-1) and wire type (0, 1, 2, 3, 4 or 5). */
  key(): { readonly field: number; readonly wireType: number } {
    const at = this.pos;
    const key = this.varint();
    const wireType = Number(key & 7n);
    const field = key >> 3n;
    if (field === 0n || field > 0x1fffffffn)
      throw new ProtobufError(`field number ${field} at offset ${at}: expected 1 to 2^29-1`);
    if (wireType > 5) throw new ProtobufError(`field ${field} at offset ${at}: invalid wire type ${wireType}`);
    return { field: Number(field), wireType };
  }

  /** Skips the value of a field whose key was just read (a whole group for START_GROUP). */
  skip(wireType: number, field: number, depth = 0): void {
    switch (wireType) {
      case WIRE.VARINT:
        this.varint();
        return;
      case WIRE.I64:
        this.need(8);
        this.pos += 8;
        return;
      case WIRE.LEN:
        this.bytes();
        return;
      case WIRE.I32:
        this.need(4);
        this.pos += 4;
        return;
      case WIRE.START_GROUP: {
        if (depth >= MAX_GROUP_DEPTH) throw new ProtobufError(`groups nested deeper than ${MAX_GROUP_DEPTH}`);
        for (;;) {
          if (this.done()) throw new ProtobufError(`group ${field} not closed`);
          const k = this.key();
          if (k.wireType === WIRE.END_GROUP) {
            if (k.field !== field) throw new ProtobufError(`group ${field} closed by end of ${k.field}`);
            return;
          }
          this.skip(k.wireType, k.field, depth + 1);
        }
      }
      default:
        throw new ProtobufError(`field ${field}: unexpected wire type ${wireType}`);
    }
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new ProtobufError(`truncated ${n * 8}-bit value at offset ${this.pos}`);
  }
}
