/**
 * D-Bus wire format (little endian): marshalling of values by signature, and message framing.
 * Values: y n q i u d → number; x t → bigint; b → boolean; s o g → string; a → array
 * (a{kv} → array of [k, v]); ( ) → array; v → { signature, value }.
 */
import { DBusError } from '../errors.js';

export type DBusValue = number | bigint | boolean | string | DBusValue[] | Variant;
export interface Variant {
  readonly signature: string;
  readonly value: DBusValue;
}

export const MessageType = { MethodCall: 1, MethodReturn: 2, Error: 3, Signal: 4 } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export interface Message {
  readonly type: MessageType;
  readonly flags: number;
  readonly serial: number;
  readonly path?: string;
  readonly interface?: string;
  readonly member?: string;
  readonly errorName?: string;
  readonly replySerial?: number;
  readonly destination?: string;
  readonly sender?: string;
  readonly signature: string;
  readonly body: DBusValue[];
}

const FIELD = {
  path: 1,
  interface: 2,
  member: 3,
  errorName: 4,
  replySerial: 5,
  destination: 6,
  sender: 7,
  signature: 8,
} as const;
const FIELD_SIG: Record<number, string> = { 1: 'o', 2: 's', 3: 's', 4: 's', 5: 'u', 6: 's', 7: 's', 8: 'g' };

/** Splits a signature into its complete types. */
export function splitSignature(sig: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < sig.length) {
    const end = typeEnd(sig, i);
    out.push(sig.slice(i, end));
    i = end;
  }
  return out;
}

function typeEnd(sig: string, i: number): number {
  const c = sig[i];
  if (c === 'a') return typeEnd(sig, i + 1);
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    let j = i + 1;
    while (sig[j] !== close) {
      if (j >= sig.length) throw new DBusError(`invalid signature ${sig}`);
      j = typeEnd(sig, j);
    }
    return j + 1;
  }
  if (c === undefined || !'ybnqiuxtdsogvh'.includes(c)) throw new DBusError(`invalid signature ${sig}`);
  return i + 1;
}

function alignOf(t: string): number {
  switch (t[0]) {
    case 'y':
    case 'g':
    case 'v':
      return 1;
    case 'n':
    case 'q':
      return 2;
    case 'x':
    case 't':
    case 'd':
    case '(':
    case '{':
      return 8;
    default:
      return 4;
  }
}

class Writer {
  buf = Buffer.alloc(256);
  len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  align(n: number): void {
    const pad = (n - (this.len % n)) % n;
    this.ensure(pad);
    this.buf.fill(0, this.len, this.len + pad);
    this.len += pad;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.len);
    this.len += 1;
  }
  u32(v: number): void {
    this.align(4);
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
  }

  value(t: string, v: DBusValue): void {
    const c = t[0];
    switch (c) {
      case 'y':
        this.u8(num(v));
        return;
      case 'b':
        this.u32(v === true ? 1 : 0);
        return;
      case 'n':
        this.align(2);
        this.ensure(2);
        this.buf.writeInt16LE(num(v), this.len);
        this.len += 2;
        return;
      case 'q':
        this.align(2);
        this.ensure(2);
        this.buf.writeUInt16LE(num(v), this.len);
        this.len += 2;
        return;
      case 'i':
        this.align(4);
        this.ensure(4);
        this.buf.writeInt32LE(num(v), this.len);
        this.len += 4;
        return;
      case 'u':
      case 'h':
        this.u32(num(v));
        return;
      case 'x':
        this.align(8);
        this.ensure(8);
        this.buf.writeBigInt64LE(BigInt(v as bigint | number), this.len);
        this.len += 8;
        return;
      case 't':
        this.align(8);
        this.ensure(8);
        this.buf.writeBigUInt64LE(BigInt(v as bigint | number), this.len);
        this.len += 8;
        return;
      case 'd':
        this.align(8);
        this.ensure(8);
        this.buf.writeDoubleLE(num(v), this.len);
        this.len += 8;
        return;
      case 's':
      case 'o': {
        const b = Buffer.from(str(v));
        this.u32(b.length);
        this.bytes(b);
        this.u8(0);
        return;
      }
      case 'g': {
        const b = Buffer.from(str(v));
        this.u8(b.length);
        this.bytes(b);
        this.u8(0);
        return;
      }
      case 'v': {
        const variant = v as Variant;
        this.value('g', variant.signature);
        this.value(variant.signature, variant.value);
        return;
      }
      case 'a': {
        const elem = t.slice(1);
        this.u32(0);
        const lenAt = this.len - 4;
        this.align(alignOf(elem));
        const start = this.len;
        for (const item of v as DBusValue[]) this.value(elem, item);
        this.buf.writeUInt32LE(this.len - start, lenAt);
        return;
      }
      case '(':
      case '{': {
        this.align(8);
        const types = splitSignature(t.slice(1, -1));
        const items = v as DBusValue[];
        types.forEach((ty, k) => {
          this.value(ty, items[k] as DBusValue);
        });
        return;
      }
      default:
        throw new DBusError(`cannot marshal type ${t}`);
    }
  }
}

function num(v: DBusValue): number {
  if (typeof v !== 'number') throw new DBusError(`expected a number, got ${typeof v}`);
  return v;
}
function str(v: DBusValue): string {
  if (typeof v !== 'string') throw new DBusError(`expected a string, got ${typeof v}`);
  return v;
}

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly base: number,
  ) {}

  align(n: number): void {
    this.pos += (n - ((this.pos - this.base) % n)) % n;
  }

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new DBusError('truncated D-Bus message');
  }

  value(t: string): DBusValue {
    const c = t[0];
    const b = this.buf;
    switch (c) {
      case 'y':
        this.need(1);
        return b.readUInt8(this.pos++);
      case 'b':
        return this.u32() !== 0;
      case 'n':
        this.align(2);
        this.need(2);
        this.pos += 2;
        return b.readInt16LE(this.pos - 2);
      case 'q':
        this.align(2);
        this.need(2);
        this.pos += 2;
        return b.readUInt16LE(this.pos - 2);
      case 'i':
        this.align(4);
        this.need(4);
        this.pos += 4;
        return b.readInt32LE(this.pos - 4);
      case 'u':
      case 'h':
        return this.u32();
      case 'x':
        this.align(8);
        this.need(8);
        this.pos += 8;
        return b.readBigInt64LE(this.pos - 8);
      case 't':
        this.align(8);
        this.need(8);
        this.pos += 8;
        return b.readBigUInt64LE(this.pos - 8);
      case 'd':
        this.align(8);
        this.need(8);
        this.pos += 8;
        return b.readDoubleLE(this.pos - 8);
      case 's':
      case 'o': {
        const n = this.u32();
        this.need(n + 1);
        const s = b.toString('utf8', this.pos, this.pos + n);
        this.pos += n + 1;
        return s;
      }
      case 'g': {
        this.need(1);
        const n = b.readUInt8(this.pos++);
        this.need(n + 1);
        const s = b.toString('latin1', this.pos, this.pos + n);
        this.pos += n + 1;
        return s;
      }
      case 'v': {
        const signature = this.value('g') as string;
        return { signature, value: this.value(signature) };
      }
      case 'a': {
        const elem = t.slice(1);
        const n = this.u32();
        if (n > 64 << 20) throw new DBusError('D-Bus array too large');
        this.align(alignOf(elem));
        const end = this.pos + n;
        this.need(n);
        const out: DBusValue[] = [];
        while (this.pos < end) out.push(this.value(elem));
        return out;
      }
      case '(':
      case '{': {
        this.align(8);
        return splitSignature(t.slice(1, -1)).map((ty) => this.value(ty));
      }
      default:
        throw new DBusError(`cannot unmarshal type ${t}`);
    }
  }

  u32(): number {
    this.align(4);
    this.need(4);
    this.pos += 4;
    return this.buf.readUInt32LE(this.pos - 4);
  }
}

/** Serialises a message (little endian, protocol version 1). */
export function encodeMessage(m: Omit<Message, 'flags'> & { flags?: number }): Buffer {
  const body = new Writer();
  const types = splitSignature(m.signature);
  types.forEach((t, k) => {
    body.value(t, m.body[k] as DBusValue);
  });
  const fields: DBusValue[] = [];
  for (const [name, code] of Object.entries(FIELD)) {
    const v = (m as unknown as Record<string, unknown>)[name];
    if (name === 'signature' && m.signature === '') continue;
    if (v !== undefined) fields.push([code, { signature: FIELD_SIG[code] ?? 's', value: v as DBusValue }]);
  }
  const head = new Writer();
  head.u8('l'.charCodeAt(0));
  head.u8(m.type);
  head.u8(m.flags ?? 0);
  head.u8(1);
  head.u32(body.len);
  head.u32(m.serial);
  head.value('a(yv)', fields);
  head.align(8);
  return Buffer.concat([head.buf.subarray(0, head.len), body.buf.subarray(0, body.len)]);
}

/** Total length of the message at the start of `buf`, or undefined when more bytes are needed. */
export function messageLength(buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined;
  if (buf[0] !== 0x6c) throw new DBusError('only little-endian D-Bus messages are supported');
  const bodyLen = buf.readUInt32LE(4);
  const fieldsLen = buf.readUInt32LE(12);
  const headerLen = 16 + fieldsLen + ((8 - ((16 + fieldsLen) % 8)) % 8);
  return headerLen + bodyLen;
}

export function decodeMessage(buf: Buffer): Message {
  const r = new Reader(buf, 12, 0);
  const rawType = buf.readUInt8(1);
  if (rawType < 1 || rawType > 4) throw new DBusError(`unknown D-Bus message type ${rawType}`);
  const type = rawType as MessageType;
  const flags = buf.readUInt8(2);
  const serial = buf.readUInt32LE(8);
  const fields = r.value('a(yv)') as [number, Variant][];
  r.align(8);
  const f: Record<string, DBusValue> = {};
  for (const [code, v] of fields) {
    const name = Object.entries(FIELD).find(([, c]) => c === code)?.[0];
    if (name !== undefined) f[name] = v.value;
  }
  const signature = typeof f['signature'] === 'string' ? f['signature'] : '';
  const bodyReader = new Reader(buf, r.pos, r.pos);
  const body = splitSignature(signature).map((t) => bodyReader.value(t));
  return {
    type,
    flags,
    serial,
    signature,
    body,
    ...(typeof f['path'] === 'string' ? { path: f['path'] } : {}),
    ...(typeof f['interface'] === 'string' ? { interface: f['interface'] } : {}),
    ...(typeof f['member'] === 'string' ? { member: f['member'] } : {}),
    ...(typeof f['errorName'] === 'string' ? { errorName: f['errorName'] } : {}),
    ...(typeof f['replySerial'] === 'number' ? { replySerial: f['replySerial'] } : {}),
    ...(typeof f['destination'] === 'string' ? { destination: f['destination'] } : {}),
    ...(typeof f['sender'] === 'string' ? { sender: f['sender'] } : {}),
  };
}

/** The value as a string (s, o, g); a DBusError when the peer sent another type. */
export function asString(v: DBusValue | undefined): string {
  if (typeof v !== 'string') throw new DBusError(`D-Bus value ${typeof v}: expected a string`);
  return v;
}
