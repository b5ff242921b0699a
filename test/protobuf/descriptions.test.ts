/**
 * Our message descriptions against the .proto files (the facts), and our codec against protobufjs on
 * random messages of every described type, both ways: protobufjs encodes -> we decode -> equal; we
 * encode -> protobufjs decodes -> equal, and the bytes are the same.
 */
import test from 'ava';
import protobuf from 'protobufjs';
import {
  decodeMessage,
  describe,
  encodeMessage,
  type DecodedMessage,
  type MessageDescription,
} from '../../lib/protobuf/message.js';
import { SNP_ATTESTATION, TDX_QUOTE_V4 } from '../../lib/attestation/document-messages.js';
import { NEW_MESH_CERT_REQUEST, NEW_MESH_CERT_RESPONSE } from '../../lib/meshapi/wire.js';
import { longToBigint, REFERENCE_ROOT, u64 } from './protobufjs-reference.js';
import { prng } from '../helpers/prng.js';

interface Rng {
  readonly seed: number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  bytes(n: number): Buffer;
}

/** Seeded (PROTOBUF_SEED=n reproduces a failure). */
function rng(salt: number): Rng {
  const seed =
    process.env['PROTOBUF_SEED'] !== undefined ? Number(process.env['PROTOBUF_SEED']) : (Date.now() ^ salt) >>> 0;
  const next = prng(seed);
  const int = (n: number): number => Math.floor(next() * n);
  return {
    seed,
    int,
    pick: (xs) => xs[int(xs.length)]!,
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => int(256))),
  };
}

const TOP: readonly MessageDescription[] = [
  SNP_ATTESTATION,
  TDX_QUOTE_V4,
  NEW_MESH_CERT_REQUEST,
  NEW_MESH_CERT_RESPONSE,
];

const SCALAR: Readonly<Record<string, string>> = {
  uint32: 'uint32',
  int32: 'int32',
  uint64: 'uint64',
  fixed32: 'fixed32',
  fixed64: 'fixed64',
  bytes: 'bytes',
  string: 'string',
};

function checkAgainstProto(desc: MessageDescription, seen: Set<string>): string[] {
  if (seen.has(desc.name)) return [];
  seen.add(desc.name);
  const type = REFERENCE_ROOT.lookupType(desc.name);
  const problems: string[] = [];
  const ours = Object.entries(desc.fields)
    .map(([n, f]) => `${n}:${f.name}`)
    .sort();
  const theirs = type.fieldsArray.map((f) => `${f.id}:${f.name}`).sort();
  if (ours.join() !== theirs.join()) problems.push(`${desc.name}: fields ${ours.join()} != .proto ${theirs.join()}`);
  for (const f of type.fieldsArray) {
    const mine = desc.fields[f.id];
    if (mine === undefined) continue;
    const rt = f.resolvedType;
    let want: string;
    if (f instanceof protobuf.MapField) {
      want = `map<${f.keyType},${f.type}>`;
    } else if (rt !== null && 'values' in rt) want = 'enum';
    else if (rt !== null) want = rt.fullName.slice(1);
    else want = SCALAR[f.type] ?? `?${f.type}`;
    const got = typeof mine.type === 'object' ? mine.type.name : mine.type;
    if (got !== want) problems.push(`${desc.name}.${f.name}: ${got} != .proto ${want}`);
    if ((mine.repeated === true) !== f.repeated)
      problems.push(`${desc.name}.${f.name}: repeated ${mine.repeated === true} != .proto ${f.repeated}`);
    if (typeof mine.type === 'object') problems.push(...checkAgainstProto(mine.type, seen));
  }
  return problems;
}

test('every message description equals its .proto (numbers, names, types, repeated)', (t) => {
  const seen = new Set<string>();
  t.deepEqual(
    TOP.flatMap((d) => checkAgainstProto(d, seen)),
    [],
  );
  t.true(seen.size >= 15, `checked ${seen.size} messages`);
});

/** A random message: each field present or absent; values in the field's whole range. */
function randomMessage(desc: MessageDescription, r: Rng, depth = 0): DecodedMessage {
  const out: DecodedMessage = {};
  for (const f of Object.values(desc.fields)) {
    if (r.int(3) === 0) continue;
    const one = (): unknown => {
      if (typeof f.type === 'object') return depth > 6 ? {} : randomMessage(f.type, r, depth + 1);
      switch (f.type) {
        case 'uint32':
        case 'fixed32':
          return r.pick([0, 1, 127, 128, 0xffffffff, r.int(0x100000000)]);
        case 'int32':
        case 'enum':
          return r.pick([0, 1, -1, 2147483647, -2147483648, r.int(2 ** 31) - 2 ** 30]);
        case 'uint64':
        case 'fixed64':
          return r.pick([
            0n,
            1n,
            2n ** 64n - 1n,
            2n ** 53n + 1n,
            BigInt.asUintN(64, BigInt(`0x${r.bytes(8).toString('hex')}`)),
          ]);
        case 'bytes':
          return r.bytes(r.int(3) === 0 ? 0 : r.int(200));
        case 'string':
          return `k${r.int(1000)}é`;
        case 'map<string,bytes>': {
          const m: Record<string, Buffer> = {};
          for (let i = r.int(4); i > 0; i--) m[`key${r.int(100)}`] = r.bytes(r.int(20));
          return m;
        }
      }
    };
    out[f.name] = f.repeated === true ? Array.from({ length: r.int(5) }, one) : one();
  }
  return out;
}

/** Our decoded shape as protobufjs' `fromObject` input. */
function toProtobufjs(desc: MessageDescription, m: DecodedMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of Object.values(desc.fields)) {
    const v = m[f.name];
    if (v === undefined) continue;
    const conv = (x: unknown): unknown =>
      typeof f.type === 'object' ? toProtobufjs(f.type, x as DecodedMessage) : typeof x === 'bigint' ? u64(x) : x;
    out[f.name] = f.repeated === true ? (v as unknown[]).map(conv) : conv(v);
  }
  return out;
}

/** protobufjs' decoded message in our shape (absent = not set on the instance). */
function fromProtobufjs(desc: MessageDescription, m: Record<string, unknown>): DecodedMessage {
  const out: DecodedMessage = {};
  for (const f of Object.values(desc.fields)) {
    if (!Object.hasOwn(m, f.name)) continue;
    const v = m[f.name];
    if (f.repeated === true && (v as unknown[]).length === 0) continue;
    if (f.type === 'map<string,bytes>' && Object.keys(v as object).length === 0) continue;
    const conv = (x: unknown): unknown => {
      if (typeof f.type === 'object') return fromProtobufjs(f.type, x as Record<string, unknown>);
      if (f.type === 'uint64' || f.type === 'fixed64') return longToBigint(x);
      if (f.type === 'bytes') return Buffer.from(x as Uint8Array);
      if (f.type === 'map<string,bytes>')
        return Object.fromEntries(Object.entries(x as Record<string, Uint8Array>).map(([k, b]) => [k, Buffer.from(b)]));
      return x;
    };
    out[f.name] = f.repeated === true ? (v as unknown[]).map(conv) : conv(v);
  }
  return out;
}

/** Our messages with empty repeated fields and maps dropped (they are absent on the wire). */
function normal(desc: MessageDescription, m: DecodedMessage): DecodedMessage {
  const out: DecodedMessage = {};
  for (const f of Object.values(desc.fields)) {
    const v = m[f.name];
    if (v === undefined) continue;
    if (f.repeated === true && (v as unknown[]).length === 0) continue;
    if (f.type === 'map<string,bytes>' && Object.keys(v as object).length === 0) continue;
    const conv = (x: unknown): unknown =>
      typeof f.type === 'object' ? normal(f.type, x as DecodedMessage) : x instanceof Uint8Array ? Buffer.from(x) : x;
    out[f.name] = f.repeated === true ? (v as unknown[]).map(conv) : conv(v);
  }
  return out;
}

for (const desc of TOP) {
  test(`${desc.name}: 300 random messages round-trip both ways with protobufjs, byte for byte`, (t) => {
    const type = REFERENCE_ROOT.lookupType(desc.name);
    const r = rng(desc.name.length);
    for (let i = 0; i < 300; i++) {
      const msg = randomMessage(desc, r);
      const want = normal(desc, msg);
      const theirs = Buffer.from(type.encode(type.fromObject(toProtobufjs(desc, msg))).finish());
      const ours = encodeMessage(desc, msg);
      if (!ours.equals(theirs)) {
        t.fail(`seed ${r.seed} #${i}: ours ${ours.toString('hex')} != protobufjs ${theirs.toString('hex')}`);
        return;
      }
      t.deepEqual(decodeMessage(desc, theirs), want, `seed ${r.seed} #${i}: our decoder on protobufjs' bytes`);
      t.deepEqual(
        fromProtobufjs(desc, type.decode(ours) as unknown as Record<string, unknown>),
        want,
        `seed ${r.seed} #${i}: protobufjs on ours`,
      );
    }
  });
}

test('describe(): numbering, gaps, repeated and nested types; a bad field list is refused', (t) => {
  const Inner = describe('x.Inner', 'v:uint32');
  const d = describe('x.Outer', 'a:uint32 b:bytes[] 5=c:Inner d:map<string,bytes>', { Inner });
  t.deepEqual(d.fields, {
    1: { name: 'a', type: 'uint32' },
    2: { name: 'b', type: 'bytes', repeated: true },
    5: { name: 'c', type: Inner },
    6: { name: 'd', type: 'map<string,bytes>' },
  });
  t.throws(() => describe('x.Bad', 'a:Nowhere'), { instanceOf: TypeError });
  t.throws(() => describe('x.Bad', 'a-uint32'), { instanceOf: TypeError });
});
