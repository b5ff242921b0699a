/**
 * A message description (field number -> name and type, copied from a .proto file, which stays the
 * source of the facts; test/protobuf checks each description against its .proto with protobufjs) and a
 * generic decoder and encoder over reader.ts and writer.ts.
 *
 * Decoding follows proto3 as protobufjs and Go do: unknown fields are skipped, the last occurrence of a
 * singular field wins, absent fields are absent from the result (callers apply the zero value). Values:
 * `uint32` -> number (low 32 bits), `int32`/`enum` -> number (signed), `uint64` -> bigint, `bytes` ->
 * Buffer (a copy), `string` -> string, a message -> a nested object, `map<string, bytes>` -> a plain
 * object, a repeated field -> an array. A known field with the wrong wire type is a ProtobufError.
 */
import { ProtobufError, ProtoReader, WIRE } from './reader.js';
import { ProtoWriter } from './writer.js';

export type ScalarType = 'uint32' | 'int32' | 'enum' | 'uint64' | 'fixed32' | 'fixed64' | 'bytes' | 'string';

export interface FieldDescription {
  readonly name: string;
  readonly type: ScalarType | 'map<string,bytes>' | MessageDescription;
  readonly repeated?: boolean;
}

export interface MessageDescription {
  /** Full name, e.g. `sevsnp.Attestation`. */
  readonly name: string;
  readonly fields: Readonly<Record<number, FieldDescription>>;
}

export type DecodedMessage = Record<string, unknown>;

const SCALARS: ReadonlySet<string> = new Set([
  'uint32',
  'int32',
  'enum',
  'uint64',
  'fixed32',
  'fixed64',
  'bytes',
  'string',
  'map<string,bytes>',
]);

/**
 * A description written like the .proto's field list: whitespace-separated `name:type` in field-number
 * order, numbered from 1 on; `N=name:type` sets the number (for gaps), `type[]` is repeated, and a type
 * that is not a scalar names an entry of `nested`. E.g. `describe('x.Y', 'a:uint32 b:bytes[] 5=c:Z', { Z })`.
 */
export function describe(
  name: string,
  fieldList: string,
  nested: Readonly<Record<string, MessageDescription>> = {},
): MessageDescription {
  const fields: Record<number, FieldDescription> = {};
  let next = 1;
  for (const token of fieldList.trim().split(/\s+/)) {
    const m = /^(?:(\d+)=)?(\w+):([\w<>,]+?)(\[\])?$/.exec(token);
    if (m === null) throw new TypeError(`${name}: field ${JSON.stringify(token)}: expected [N=]name:type[[]]`);
    const [, num, fieldName = '', type = '', repeated] = m;
    const number = num === undefined ? next : Number(num);
    const resolved = SCALARS.has(type) ? (type as FieldDescription['type']) : nested[type];
    if (resolved === undefined) throw new TypeError(`${name}.${fieldName}: unknown type ${type}`);
    fields[number] =
      repeated === undefined
        ? { name: fieldName, type: resolved }
        : { name: fieldName, type: resolved, repeated: true };
    next = number + 1;
  }
  return { name, fields };
}

const WIRE_OF: Readonly<Record<ScalarType, number>> = {
  uint32: WIRE.VARINT,
  int32: WIRE.VARINT,
  enum: WIRE.VARINT,
  uint64: WIRE.VARINT,
  fixed32: WIRE.I32,
  fixed64: WIRE.I64,
  bytes: WIRE.LEN,
  string: WIRE.LEN,
};

function wireOf(type: FieldDescription['type']): number {
  return typeof type === 'string' && type !== 'map<string,bytes>' ? WIRE_OF[type] : WIRE.LEN;
}

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function readScalar(r: ProtoReader, type: ScalarType): unknown {
  switch (type) {
    case 'uint32':
      return r.uint32();
    case 'int32':
    case 'enum':
      return r.int32();
    case 'uint64':
      return r.uint64();
    case 'fixed32':
      return r.fixed32();
    case 'fixed64':
      return r.fixed64();
    case 'bytes':
      return Buffer.from(r.bytes());
    case 'string':
      return r.string();
  }
}

const MAP_ENTRY: MessageDescription = {
  name: 'map entry',
  fields: { 1: { name: 'key', type: 'string' }, 2: { name: 'value', type: 'bytes' } },
};

/** Decodes `bytes` as `desc`; malformed input is a ProtobufError naming the message. */
export function decodeMessage(desc: MessageDescription, bytes: Uint8Array): DecodedMessage {
  const r = new ProtoReader(bytes);
  const out: DecodedMessage = {};
  while (!r.done()) {
    const { field, wireType } = r.key();
    const f = desc.fields[field];
    if (f === undefined) {
      r.skip(wireType, field);
      continue;
    }
    if (wireType !== wireOf(f.type)) {
      throw new ProtobufError(
        `${desc.name}.${f.name} (field ${field}): wire type ${wireType}, expected ${wireOf(f.type)}`,
      );
    }
    let value: unknown;
    if (f.type === 'map<string,bytes>') {
      const entry = decodeMessage(MAP_ENTRY, r.bytes());
      const map = (out[f.name] as Record<string, unknown> | undefined) ?? {};
      setOwn(map, (entry['key'] as string | undefined) ?? '', entry['value'] ?? Buffer.alloc(0));
      value = map;
    } else if (typeof f.type === 'object') {
      value = decodeMessage(f.type, r.bytes());
    } else {
      value = readScalar(r, f.type);
    }
    if (f.repeated === true) {
      const list = (out[f.name] as unknown[] | undefined) ?? [];
      list.push(value);
      value = list;
    }
    setOwn(out, f.name, value);
  }
  return out;
}

function writeScalar(w: ProtoWriter, field: number, type: ScalarType, v: unknown, what: string): void {
  const num = (): number => {
    if (typeof v !== 'number' || !Number.isInteger(v))
      throw new ProtobufError(`${what}: expected an integer, got ${typeof v}`);
    return v;
  };
  const big = (): bigint => {
    if (typeof v === 'bigint') return v;
    return BigInt(num());
  };
  switch (type) {
    case 'uint32':
      w.uint32(field, num());
      return;
    case 'int32':
    case 'enum':
      w.int32(field, num());
      return;
    case 'uint64':
      w.uint64(field, big());
      return;
    case 'fixed32':
      w.fixed32(field, num());
      return;
    case 'fixed64':
      w.fixed64(field, big());
      return;
    case 'bytes':
      if (!(v instanceof Uint8Array)) throw new ProtobufError(`${what}: expected bytes`);
      w.bytes(field, v);
      return;
    case 'string':
      if (typeof v !== 'string') throw new ProtobufError(`${what}: expected a string`);
      w.string(field, v);
  }
}

/**
 * Encodes an object shaped like `decodeMessage`'s result: fields in field-number order, every present
 * field written (also zero values), absent (undefined) fields left out.
 */
export function encodeMessage(desc: MessageDescription, msg: DecodedMessage): Buffer {
  return writeMessage(new ProtoWriter(), desc, msg).finish();
}

function writeMessage(w: ProtoWriter, desc: MessageDescription, msg: DecodedMessage): ProtoWriter {
  const numbers = Object.keys(desc.fields)
    .map(Number)
    .sort((a, b) => a - b);
  for (const field of numbers) {
    const f = desc.fields[field] as FieldDescription;
    const v = Object.hasOwn(msg, f.name) ? msg[f.name] : undefined;
    if (v === undefined || v === null) continue;
    const what = `${desc.name}.${f.name}`;
    const values = f.repeated === true ? (Array.isArray(v) ? (v as unknown[]) : [v]) : [v];
    for (const one of values) {
      if (f.type === 'map<string,bytes>') w.stringBytesMap(field, one as Record<string, Uint8Array>);
      else if (typeof f.type === 'object')
        w.message(field, writeMessage(new ProtoWriter(), f.type, one as DecodedMessage));
      else writeScalar(w, field, f.type, one, what);
    }
  }
  return w;
}
