/**
 * The hand-written document encoders (pb-writer.ts) against protobufjs: for the real fixtures and for
 * many random documents, the bytes must equal what the previous protobufjs encoders produce
 * (pb-reference.ts), and the existing decoders must read them back.
 */
import test, { type ExecutionContext } from 'ava';
import protobuf from 'protobufjs';
import { ProtoWriter } from '../../lib/protobuf/writer.js';
import { parseSnpReport, SNP_REPORT_SIZE, type SnpReport } from '../../lib/attestation/snp-report.js';
import {
  decodeSnpDocument,
  encodeSnpDocument,
  SNP_CRL_EXTRAS_KEY,
  type SnpDocument,
} from '../../lib/attestation/snp-document.js';
import { parseTdxQuote, TDX_QE_REPORT_SIZE } from '../../lib/attestation/tdx-quote.js';
import { decodeTdxDocument, encodeTdxDocument } from '../../lib/attestation/tdx-document.js';
import type { SnpProduct } from '../../lib/attestation/snp-product.js';
import { ATTESTATION_ERROR_CODES as C } from '../../lib/attestation/errors.js';
import { u64 } from '../protobuf/protobufjs-reference.js';
import { protobufjsSnpDocument, protobufjsTdxDocument } from './pb-reference.js';
import { fixtureText, milanReport, milanVcek, milanAskArk, tdxQuote, throwsCode } from './helpers.js';
import { prng } from '../helpers/prng.js';

const ROUNDS = 300;

class Rand {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    const zero = this.int(4) === 0; // a quarter of all byte fields stay all-zero
    if (!zero) for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  u32(): number {
    return this.pick([0, 1, 127, 128, 0xffff, 0x7fffffff, 0xffffffff, this.int(2 ** 32)]);
  }
  u8(): number {
    return this.pick([0, 1, 0x7f, 0x80, 0xff, this.int(256)]);
  }
  u64(): bigint {
    return this.pick([
      0n,
      1n,
      0x7fn,
      0x80n,
      2n ** 53n + 1n,
      2n ** 63n,
      2n ** 64n - 1n,
      (BigInt(this.int(2 ** 32)) << 32n) | BigInt(this.int(2 ** 32)),
    ]);
  }
}

function seedOf(): number {
  return (Date.now() ^ (process.pid << 8)) >>> 0;
}

/** Both encoders on `doc`: equal bytes, or both throw. */
function sameSnp(t: ExecutionContext, doc: SnpDocument, label: string): Buffer {
  const want = protobufjsSnpDocument(doc);
  const got = encodeSnpDocument(doc);
  if (!got.equals(want)) t.fail(`${label}: hand-written ${got.toString('hex')} != protobufjs ${want.toString('hex')}`);
  return got;
}

// --- the writer itself, against protobufjs' Writer -------------------------------------------------

test('ProtoWriter: varints, u64 edges, bytes, strings and nested messages equal protobufjs Writer', (t) => {
  const r = new Rand(seedOf());
  for (let i = 0; i < ROUNDS; i++) {
    const ours = new ProtoWriter();
    const theirs = protobuf.Writer.create();
    for (let j = 0, n = r.int(8); j < n; j++) {
      const field = r.pick([1, 2, 15, 16, 31, 2047, 2048, 536870911]);
      switch (r.int(5)) {
        case 0: {
          const v = r.u32();
          ours.uint32(field, v);
          theirs.uint32((field << 3) >>> 0).uint32(v);
          break;
        }
        case 1: {
          const v = r.u64();
          ours.uint64(field, v);
          theirs.uint32((field << 3) >>> 0).uint64(u64(v));
          break;
        }
        case 2: {
          const v = r.pick([-1, -(2 ** 31), 0, 3, 2 ** 31 - 1]);
          ours.int32(field, v);
          theirs.uint32((field << 3) >>> 0).int32(v);
          break;
        }
        case 3: {
          const b = r.bytes(r.pick([0, 1, 127, 128, 300, 20000]));
          ours.bytes(field, b);
          theirs.uint32(((field << 3) | 2) >>> 0).bytes(b);
          break;
        }
        default: {
          const s = r.pick(['', 'a', SNP_CRL_EXTRAS_KEY, 'grüße €', '12', 'x'.repeat(200)]);
          ours.string(field, s);
          theirs.uint32(((field << 3) | 2) >>> 0).string(s);
          break;
        }
      }
    }
    const want = Buffer.from(theirs.finish());
    const got = ours.finish();
    if (!got.equals(want)) {
      t.fail(`seed ${r.seed} round ${i}: ${got.toString('hex')} != ${want.toString('hex')}`);
      return;
    }
  }
  t.pass();
});

// --- SEV-SNP ---------------------------------------------------------------------------------------

function pemBlocks(pem: string): Buffer[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)].map((m) =>
    Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'),
  );
}

test('SNP: the real fixtures encode to the same bytes as protobufjs and round-trip', (t) => {
  const [ask, ark] = pemBlocks(milanAskArk());
  const report = parseSnpReport(milanReport());
  const docs: SnpDocument[] = [
    { report, product: 'Milan', machineStepping: 0, chain: { vcek: milanVcek() } },
    {
      report,
      product: 'Milan',
      machineStepping: 0,
      chain: { vcek: milanVcek(), ask: ask!, ark: ark!, extras: { [SNP_CRL_EXTRAS_KEY]: Buffer.alloc(1500, 7) } },
    },
    { report, product: 'Milan' },
  ];
  // The other products' anchors (copies of ../shared/testdata/tee/snp) as certificates of realistic size.
  for (const p of ['milan', 'genoa', 'turin'] as const) {
    const [a, k] = pemBlocks(fixtureText(`snp/ask-ark-${p}.pem`));
    const [v] = pemBlocks(fixtureText(`snp/asvk-ark-${p}-vlek.pem`));
    const product: SnpProduct = p === 'milan' ? 'Milan' : p === 'genoa' ? 'Genoa' : 'Turin';
    docs.push({ report, product, machineStepping: 2, chain: { vlek: v!, ask: a!, ark: k! } });
    docs.push({
      report,
      product,
      chain: { vcek: milanVcek(), vlek: v!, ask: a!, ark: k!, extras: { [SNP_CRL_EXTRAS_KEY]: k!, other: a! } },
    });
  }
  for (const [i, doc] of docs.entries()) {
    const bytes = sameSnp(t, doc, `fixture ${i}`);
    const back = decodeSnpDocument(bytes);
    t.true(back.report.raw.equals(doc.report.raw));
    t.is(back.product, doc.product);
    t.deepEqual(back.chain, doc.chain);
  }
});

/** A random report that parses: every field the document carries set at random within its legal range. */
function randomSnpRaw(r: Rand): Buffer {
  const raw = Buffer.alloc(SNP_REPORT_SIZE);
  const version = r.pick([2, 3, 4, 5]);
  raw.writeUInt32LE(version, 0x00);
  raw.writeUInt32LE(r.u32(), 0x04);
  raw.writeBigUInt64LE(BigInt((1 << 17) | r.int(1 << 26)), 0x08);
  for (const [off, len] of [
    [0x10, 16],
    [0x20, 16],
    [0x50, 64],
    [0x90, 48],
    [0xc0, 32],
    [0xe0, 48],
    [0x110, 48],
    [0x140, 32],
    [0x160, 32],
    [0x1a0, 64],
    [0x2a0, 48],
    [0x2e8, 48],
  ] as const) {
    r.bytes(len).copy(raw, off);
  }
  raw.writeUInt32LE(r.u32(), 0x30);
  raw.writeUInt32LE(1, 0x34);
  raw.writeBigUInt64LE(r.u64(), 0x38);
  raw.writeBigUInt64LE(r.u64(), 0x40);
  raw.writeUInt32LE((r.pick([0, 1, 7]) << 2) | r.int(4), 0x48);
  raw.writeBigUInt64LE(r.u64(), 0x180);
  if (version >= 3) {
    raw.writeUInt8(r.pick([0, 0x19, 0x1a, 0x0f, 0x05, r.int(256)]), 0x188);
    raw.writeUInt8(r.u8(), 0x189);
    raw.writeUInt8(r.int(16), 0x18a);
  }
  raw.writeBigUInt64LE(r.u64(), 0x1e0);
  for (const off of [0x1e8, 0x1e9, 0x1ea, 0x1ec, 0x1ed, 0x1ee]) raw.writeUInt8(r.u8(), off);
  raw.writeBigUInt64LE(r.u64(), 0x1f0);
  if (version >= 5) {
    raw.writeBigUInt64LE(r.u64(), 0x1f8);
    raw.writeBigUInt64LE(r.u64(), 0x200);
  }
  return raw;
}

function randomChain(r: Rand): SnpDocument['chain'] {
  if (r.int(5) === 0) return undefined;
  const cert = (): Buffer | undefined => (r.int(3) === 0 ? undefined : r.bytes(r.pick([0, 1, 127, 128, 1400, 70000])));
  const extras: Record<string, Buffer> = {};
  for (let i = 0, n = r.int(4); i < n; i++) {
    extras[r.pick([SNP_CRL_EXTRAS_KEY, '', 'a', '7', '12', 'grüße', `k${i}`])] = r.bytes(r.pick([0, 1, 300, 5000]));
  }
  const c = { vcek: cert(), vlek: cert(), ask: cert(), ark: cert(), extras: r.int(3) === 0 ? undefined : extras };
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
}

test('SNP: random documents encode to the same bytes as protobufjs and round-trip through the decoder', (t) => {
  const r = new Rand(seedOf());
  for (let i = 0; i < ROUNDS; i++) {
    const raw = randomSnpRaw(r);
    const chain = randomChain(r);
    const stepping = r.pick([undefined, 0, 1, 0xffffffff, r.u32()]);
    const doc: SnpDocument = {
      report: parseSnpReport(raw),
      product: r.pick<SnpProduct>(['Milan', 'Genoa', 'Turin', 'Unknown']),
      ...(chain !== undefined ? { chain } : {}),
      ...(stepping !== undefined ? { machineStepping: stepping } : {}),
    };
    const label = `seed ${r.seed} round ${i}`;
    const bytes = sameSnp(t, doc, label);
    const back = decodeSnpDocument(bytes);
    if (!back.report.raw.equals(raw)) {
      t.fail(`${label}: report does not round-trip`);
      return;
    }
    t.is(back.product, doc.product, label);
    t.is(back.machineStepping, doc.machineStepping ?? 0, label);
    const hasCert = chain !== undefined && (chain.vcek ?? chain.vlek ?? chain.ask ?? chain.ark) !== undefined;
    if (hasCert) {
      // The decoder reads empty certificates and empty extras maps as absent, as protobuf does.
      const nonEmpty = Object.fromEntries(
        Object.entries(chain).filter(([k, v]) => k !== 'extras' && (v as Buffer).length > 0),
      );
      const extras = chain.extras ?? {};
      t.deepEqual(back.chain, { ...nonEmpty, ...(Object.keys(extras).length > 0 ? { extras } : {}) }, label);
    } else {
      t.is(back.chain, undefined, label);
    }
  }
});

test('SNP: hand-made reports with out-of-range values (max u64, u32 wrap) equal protobufjs; non-integers are rejected', (t) => {
  const base = parseSnpReport(milanReport());
  const r = new Rand(seedOf());
  for (let i = 0; i < ROUNDS; i++) {
    const report: SnpReport = {
      ...base,
      version: r.pick([0, 2, 3, 5, 0xffffffff, -1]),
      guestSvn: r.u32(),
      vmpl: r.pick([-5, 0, r.u32()]),
      signatureAlgo: r.u32(),
      signerInfo: r.u32(),
      policy: r.pick([0, 1, 2 ** 53 - 1]),
      currentTcb: r.u64(),
      platformInfo: r.u64(),
      reportedTcb: r.u64(),
      committedTcb: r.u64(),
      launchTcb: r.u64(),
      launchMitVector: r.u64(),
      currentMitVector: r.u64(),
      cpuidFamily: r.u8(),
      cpuidModel: r.u8(),
      cpuidStepping: r.u8(),
      currentBuild: r.u32(),
      currentMinor: r.u8(),
      currentMajor: r.u8(),
      committedBuild: r.u8(),
      committedMinor: r.u8(),
      committedMajor: r.u32(),
      familyId: r.bytes(r.pick([0, 16])),
      imageId: r.bytes(r.pick([0, 16])),
      reportData: r.bytes(r.pick([0, 64])),
      measurement: r.bytes(r.pick([0, 48])),
      hostData: r.bytes(r.pick([0, 32])),
      idKeyDigest: r.bytes(r.pick([0, 48])),
      authorKeyDigest: r.bytes(r.pick([0, 48])),
      reportId: r.bytes(r.pick([0, 32])),
      reportIdMa: r.bytes(r.pick([0, 32])),
      chipId: r.bytes(r.pick([0, 64])),
      signature: r.bytes(r.pick([0, 512])),
    };
    const chain = randomChain(r);
    sameSnp(
      t,
      { report, product: r.pick<SnpProduct>(['Milan', 'Unknown']), ...(chain !== undefined ? { chain } : {}) },
      `seed ${r.seed} round ${i}`,
    );
  }
  throwsCode(t, () => encodeSnpDocument({ report: { ...base, guestSvn: 1.5 }, product: 'Milan' }), C.DOCUMENT);
  throwsCode(t, () => protobufjsSnpDocument({ report: { ...base, guestSvn: 1.5 }, product: 'Milan' }), C.DOCUMENT);
  throwsCode(t, () => encodeSnpDocument({ report: base, product: 'Milan', machineStepping: 0.5 }), C.DOCUMENT);
  throwsCode(t, () => protobufjsSnpDocument({ report: base, product: 'Milan', machineStepping: 0.5 }), C.DOCUMENT);
});

// --- TDX -------------------------------------------------------------------------------------------

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/** A random v4 quote with consistent sizes: random field bytes, QE auth data and PCK chain of random length, extra bytes. */
function randomTdxQuote(r: Rand): Buffer {
  const header = Buffer.concat([u16(4), u16(2), u32(0x81), r.bytes(2), r.bytes(2), r.bytes(16), r.bytes(20)]);
  const body = r.bytes(584);
  const qeReport = Buffer.concat([
    r.bytes(16),
    u32(r.u32()),
    r.bytes(28),
    r.bytes(16),
    r.bytes(32),
    r.bytes(32),
    r.bytes(32),
    r.bytes(96),
    u16(r.pick([0, 1, 0xffff])),
    u16(r.pick([0, 2, 0x8000])),
    r.bytes(60),
    r.bytes(64),
  ]);
  t_assert(qeReport.length === TDX_QE_REPORT_SIZE);
  const auth = r.bytes(r.pick([0, 1, 32, 300]));
  const chain = r.bytes(r.pick([0, 1, 127, 128, 5000, 20000]));
  const cd = Buffer.concat([qeReport, r.bytes(64), u16(auth.length), auth, u16(5), u32(chain.length), chain]);
  const signed = Buffer.concat([r.bytes(64), r.bytes(64), u16(6), u32(cd.length), cd]);
  const extra = r.bytes(r.pick([0, 0, 1, 40]));
  return Buffer.concat([header, body, u32(signed.length), signed, extra]);
}

function t_assert(ok: boolean): void {
  if (!ok) throw new Error('test quote builder: wrong size');
}

test('TDX: the real quote encodes to the same bytes as protobufjs and round-trips', (t) => {
  const real = tdxQuote();
  // The real quote, and the same without its trailing bytes.
  for (const raw of [real, real.subarray(0, parseTdxQuote(real).raw.length)]) {
    const q = parseTdxQuote(raw);
    const bytes = encodeTdxDocument(q);
    t.true(bytes.equals(protobufjsTdxDocument(q)));
    const back = decodeTdxDocument(bytes);
    t.true(Buffer.concat([back.raw, back.extraBytes]).equals(raw));
  }
});

test('TDX: random quotes encode to the same bytes as protobufjs and round-trip through the decoder', (t) => {
  const r = new Rand(seedOf());
  for (let i = 0; i < ROUNDS; i++) {
    const raw = randomTdxQuote(r);
    const q = parseTdxQuote(raw);
    const label = `seed ${r.seed} round ${i}`;
    const got = encodeTdxDocument(q);
    const want = protobufjsTdxDocument(q);
    if (!got.equals(want)) {
      t.fail(`${label}: hand-written ${got.toString('hex')} != protobufjs ${want.toString('hex')}`);
      return;
    }
    const back = decodeTdxDocument(got);
    if (!Buffer.concat([back.raw, back.extraBytes]).equals(raw)) {
      t.fail(`${label}: quote does not round-trip`);
      return;
    }
  }
  t.pass();
});

test('TDX: hand-made quotes with empty and zero fields equal protobufjs', (t) => {
  const base = parseTdxQuote(tdxQuote());
  const r = new Rand(seedOf());
  const empty = Buffer.alloc(0);
  for (let i = 0; i < ROUNDS; i++) {
    const maybe = (b: Buffer): Buffer => (r.int(3) === 0 ? empty : b);
    const q = {
      ...base,
      attestationKeyType: r.pick([0, 2, 0xffff]),
      teeType: r.u32(),
      qeSvn: maybe(base.qeSvn),
      pceSvn: maybe(base.pceSvn),
      userData: maybe(base.userData),
      body: {
        ...base.body,
        mrTd: maybe(base.body.mrTd),
        rtmrs: r.pick([[], base.body.rtmrs, [empty, ...base.body.rtmrs]]),
        reportData: maybe(base.body.reportData),
      },
      signedDataSize: r.u32(),
      signature: maybe(base.signature),
      attestationKey: maybe(base.attestationKey),
      certificationDataType: r.pick([0, 6]),
      certificationDataSize: r.u32(),
      qeReportSignature: maybe(base.qeReportSignature),
      qeReport: {
        ...base.qeReport,
        miscSelect: r.u32(),
        isvProdId: r.pick([0, 1]),
        isvSvn: r.pick([0, 0xffff]),
        mrEnclave: maybe(base.qeReport.mrEnclave),
      },
      qeAuthData: maybe(base.qeAuthData),
      pckChainType: r.pick([0, 5]),
      pckChainSize: r.u32(),
      pckChain: maybe(base.pckChain),
      extraBytes: maybe(base.extraBytes),
    };
    const got = encodeTdxDocument(q);
    if (!got.equals(protobufjsTdxDocument(q))) {
      t.fail(`seed ${r.seed} round ${i}: differs from protobufjs`);
      return;
    }
  }
  throwsCode(t, () => encodeTdxDocument({ ...base, version: 5 }), C.UNSUPPORTED_VERSION);
  t.pass();
});
