/**
 * The reader on untrusted bytes: random buffers, every truncation of real messages and mutated real
 * messages either decode or throw ProtobufError (ERR_PROTOBUF_MALFORMED), never another error, and
 * finish (the loop is bounded by the input length). Seeded: PROTOBUF_SEED=n reproduces a failure.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { decodeMessage, type MessageDescription } from '../../lib/protobuf/message.js';
import { ProtobufError, ProtoReader } from '../../lib/protobuf/reader.js';
import { SNP_ATTESTATION, TDX_QUOTE_V4 } from '../../lib/attestation/document-messages.js';
import { NEW_MESH_CERT_RESPONSE, encodeNewMeshCertResponse } from '../../lib/meshapi/wire.js';
import { encodeSnpDocument } from '../../lib/attestation/snp-document.js';
import { encodeTdxDocument } from '../../lib/attestation/tdx-document.js';
import { parseSnpReport } from '../../lib/attestation/snp-report.js';
import { parseTdxQuote } from '../../lib/attestation/tdx-quote.js';
import { prng } from '../helpers/prng.js';

const FIXTURES = new URL('../fixtures/attestation/', import.meta.url);
const SEED = process.env['PROTOBUF_SEED'] !== undefined ? Number(process.env['PROTOBUF_SEED']) : Date.now() >>> 0;

const SAMPLES: ReadonlyArray<readonly [MessageDescription, Buffer]> = [
  [
    SNP_ATTESTATION,
    encodeSnpDocument({
      report: parseSnpReport(readFileSync(new URL('snp/milan-report.bin', FIXTURES))),
      product: 'Milan',
      machineStepping: 1,
      chain: { extras: { crl: Buffer.from('x') } },
    }),
  ],
  [TDX_QUOTE_V4, encodeTdxDocument(parseTdxQuote(readFileSync(new URL('tdx/spr-e4-quote-v4.dat', FIXTURES))))],
  [
    NEW_MESH_CERT_RESPONSE,
    encodeNewMeshCertResponse({
      meshCACert: Buffer.from('m'),
      certChain: Buffer.alloc(300, 1),
      rootCACert: Buffer.from('r'),
      workloadSecret: Buffer.alloc(0),
    }),
  ],
];

/** Decodes, and returns 'ok' or 'typed'; anything else fails the test with the input. */
function attempt(desc: MessageDescription, input: Buffer): 'ok' | 'typed' {
  try {
    decodeMessage(desc, input);
    return 'ok';
  } catch (err) {
    if (err instanceof ProtobufError) return 'typed';
    throw new Error(`seed ${SEED}: ${desc.name} on ${input.toString('hex').slice(0, 400)}: ${String(err)}`, {
      cause: err,
    });
  }
}

test('the samples decode', (t) => {
  for (const [desc, bytes] of SAMPLES) t.is(attempt(desc, bytes), 'ok', desc.name);
});

test('every truncation of each sample decodes or is a ProtobufError; most are errors', (t) => {
  for (const [desc, bytes] of SAMPLES) {
    let typed = 0;
    for (let n = 0; n < bytes.length; n++) if (attempt(desc, bytes.subarray(0, n)) === 'typed') typed++;
    t.true(typed > bytes.length / 2, `${desc.name}: ${typed} of ${bytes.length} truncations rejected`);
  }
});

test('5000 mutated samples and 5000 random buffers: decode or ProtobufError', (t) => {
  const next = prng(SEED);
  const int = (n: number): number => Math.floor(next() * n);
  const counts = { ok: 0, typed: 0 };
  for (let i = 0; i < 5000; i++) {
    const [desc, sample] = SAMPLES[int(SAMPLES.length)]!;
    const b = Buffer.from(sample);
    for (let k = 1 + int(8); k > 0; k--) b[int(b.length)] = int(256);
    counts[attempt(desc, b)]++;
    const random = Buffer.from(Array.from({ length: int(64) }, () => int(256)));
    counts[attempt(SAMPLES[int(SAMPLES.length)]![0], random)]++;
  }
  t.true(counts.typed > 0 && counts.ok > 0, JSON.stringify(counts));
});

const CASES: ReadonlyArray<readonly [string, string]> = [
  ['truncated varint', '08'],
  ['11-byte varint', '08ffffffffffffffffffff01'],
  ['varint past 2^64', '08ffffffffffffffffff02'],
  ['field number 0', '0001'],
  ['wire type 6', '0e'],
  ['wire type 7', '0f'],
  ['length past the end', '0a0541'],
  ['truncated fixed32', '2d0102'],
  ['truncated fixed64', '29010203'],
  ['unclosed group', '2b'],
  ['group closed by another field', '2b34'],
  ['stray end group', '2c'],
  ['deeply nested groups', '2b'.repeat(100_000)],
  ['known field, wrong wire type', '0801'],
];

for (const [name, hex] of CASES) {
  test(`malformed: ${name} is ERR_PROTOBUF_MALFORMED`, (t) => {
    t.throws(() => decodeMessage(NEW_MESH_CERT_RESPONSE, Buffer.from(hex, 'hex')), {
      instanceOf: ProtobufError,
      code: 'ERR_PROTOBUF_MALFORMED',
    });
  });
}

test('unknown fields of every wire type are skipped, groups included', (t) => {
  // 5: varint 150, 6: fixed64, 7: bytes "ABC", 8: a group holding field 1 = 7, 9: fixed32, then field 1 = "m".
  const input = Buffer.from(
    '289601' + '310102030405060708' + '3a03414243' + '43080744' + '4d01020304' + '0a016d',
    'hex',
  );
  t.deepEqual(decodeMessage(NEW_MESH_CERT_RESPONSE, input), { MeshCACert: Buffer.from('m') });
});

test('the reader reads fixed-width values and varints at their limits', (t) => {
  const r = new ProtoReader(Buffer.from('ffffffffffffffffff01' + '78563412' + 'efcdab8967452301', 'hex'));
  t.is(r.uint64(), 2n ** 64n - 1n);
  t.is(r.fixed32(), 0x12345678);
  t.is(r.fixed64(), 0x0123456789abcdefn);
  t.true(r.done());
});
