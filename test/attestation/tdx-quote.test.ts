import test from 'ava';
import { parseTdxQuote } from '../../lib/attestation/tdx-quote.js';
import { verifyTdxQuote, pckCertificates } from '../../lib/attestation/tdx-verify.js';
import { loadCertificates } from '../../lib/attestation/certs.js';
import { AttestationError, ATTESTATION_ERROR_CODES as C } from '../../lib/attestation/errors.js';
import { flipBit, intelRoot, milanAskArk, tdxQuote, throwsCode } from './helpers.js';

const NOW = new Date('2026-01-01T00:00:00Z');
const anchors = () => loadCertificates(intelRoot(), 'root');

// Expected values read by hand from `xxd spr-e4-quote-v4.dat` at the offsets of tee-abi.md §2.5.
test('spr-e4-quote-v4.dat parses to the values in its bytes', (t) => {
  const q = parseTdxQuote(tdxQuote());
  t.is(q.version, 4); // 0x00: 04 00
  t.is(q.attestationKeyType, 2); // 0x02: 02 00
  t.is(q.teeType, 0x81); // 0x04: 81 00 00 00
  t.is(q.pceSvn.toString('hex'), '0000');
  t.is(q.qeSvn.toString('hex'), '0000');
  t.is(q.qeVendorId.toString('hex'), '939a7233f79c4ca9940a0db3957f0607'); // 0x0c
  t.is(q.userData.toString('hex'), '739c3f292a15bace1f726351a70d4b7900000000'); // 0x1c
  const b = q.body;
  t.is(b.teeTcbSvn.toString('hex'), '03000400000000000000000000000000'); // 0x30
  t.is(
    b.mrSeam.toString('hex'),
    '2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656',
  );
  t.is(b.mrSignerSeam.toString('hex'), '00'.repeat(48));
  t.is(b.tdAttributes.toString('hex'), '0000004000000000'); // 0xa8
  t.is(b.xfam.toString('hex'), 'e71a060000000000'); // 0xb0
  t.is(
    b.mrTd.toString('hex'),
    '6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb',
  );
  t.is(b.mrConfigId.toString('hex'), '00'.repeat(48));
  t.deepEqual(
    b.rtmrs.map((r) => r.toString('hex')),
    [
      '2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a',
      '2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61',
      '8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e',
      '00'.repeat(48),
    ],
  );
  t.is(
    b.reportData.toString('hex'),
    '6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113',
  );
  t.is(q.signedDataSize, 0x10cb); // 0x278: cb 10 00 00
  t.is(q.signature.subarray(0, 4).toString('hex'), 'f5166f06');
  t.is(q.certificationDataType, 6); // 0x2fc: 06 00
  t.is(q.certificationDataSize, 0x1045); // 45 10 00 00
  t.is(q.qeReport.cpuSvn.toString('hex'), '04040d0f03ff00030000000000000000');
  t.is(q.qeReport.isvProdId, 2);
  t.is(q.qeReport.isvSvn, 4);
  t.is(q.qeAuthData.toString('hex'), Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex'));
  t.is(q.pckChainType, 5);
  t.is(q.raw.length, 4935);
  t.is(q.extraBytes.toString('latin1'), '\nextra bytes(only for testing purpose)\n');
  t.deepEqual(
    pckCertificates(q).map((c) => /CN=(.*)/.exec(c.subject)?.[1]),
    ['Intel SGX PCK Certificate', 'Intel SGX PCK Platform CA', 'Intel SGX Root CA'],
  );
});

test('quote signature, QE report signature, QE binding and PCK chain verify', (t) => {
  const { chain } = verifyTdxQuote(parseTdxQuote(tdxQuote()), { anchors: anchors(), now: NOW });
  t.is(chain.length, 3);
});

test('one flipped bit anywhere in the signed range fails verification', (t) => {
  const raw = tdxQuote();
  const a = anchors();
  for (let i = 0; i < 0x278; i++) {
    const err = t.throws(() => verifyTdxQuote(parseTdxQuote(flipBit(raw, i, i % 8)), { anchors: a, now: NOW }), {
      instanceOf: AttestationError,
    });
    if (i >= 0x0c) t.is(err.code, C.SIGNATURE, `byte 0x${i.toString(16)}`); // header type fields fail parsing first
  }
});

test('a flipped bit in the QE report or its signature fails verification', (t) => {
  const raw = tdxQuote();
  const qeOff = 0x278 + 4 + 134;
  for (const off of [qeOff, qeOff + 0x40, qeOff + 0x140, qeOff + 383, qeOff + 384, qeOff + 447]) {
    throwsCode(
      t,
      () => verifyTdxQuote(parseTdxQuote(flipBit(raw, off, 1)), { anchors: anchors(), now: NOW }),
      C.SIGNATURE,
    );
  }
  // QE auth data is bound by the QE report data
  throwsCode(
    t,
    () => verifyTdxQuote(parseTdxQuote(flipBit(raw, qeOff + 384 + 64 + 2, 0)), { anchors: anchors(), now: NOW }),
    C.QE_BINDING,
  );
});

test('the PCK chain must end at a pinned root', (t) => {
  const other = loadCertificates(milanAskArk(), 'amd').filter((c) => c.subject.includes('ARK'));
  throwsCode(t, () => verifyTdxQuote(parseTdxQuote(tdxQuote()), { anchors: other, now: NOW }), C.CHAIN);
  throwsCode(
    t,
    () => verifyTdxQuote(parseTdxQuote(tdxQuote()), { anchors: anchors(), now: new Date('2034-01-01T00:00:00Z') }),
    C.CHAIN,
  );
});

test('v5 quotes with a type-3 body parse with the longer body and a shifted signed range', (t) => {
  const v4 = tdxQuote();
  const body = Buffer.concat([v4.subarray(0x30, 0x278), Buffer.alloc(64, 0xaa)]);
  const header = Buffer.from(v4.subarray(0, 0x30));
  header.writeUInt16LE(5, 0);
  const desc = Buffer.alloc(6);
  desc.writeUInt16LE(3, 0);
  desc.writeUInt32LE(body.length, 2);
  const q = parseTdxQuote(Buffer.concat([header, desc, body, v4.subarray(0x278)]));
  t.is(q.version, 5);
  t.is(q.bodyType, 3);
  t.is(q.signedEnd, 0x2be);
  t.is(q.body.mrTd.toString('hex').slice(0, 8), '6363b804');
  t.is(q.body.teeTcbSvn2?.toString('hex'), 'aa'.repeat(16));
  t.is(q.body.mrServiceTd?.length, 48);
  t.is(q.signedDataSize, 4299);
});

const bad: Array<[string, (b: Buffer) => void, string]> = [
  ['version 3', (b) => b.writeUInt16LE(3, 0), C.UNSUPPORTED_VERSION],
  ['key type 3', (b) => b.writeUInt16LE(3, 2), C.FORMAT],
  ['SGX tee type', (b) => b.writeUInt32LE(0, 4), C.FORMAT],
  ['signed data size past the end', (b) => b.writeUInt32LE(5000, 0x278), C.TRUNCATED],
  ['certification type 5', (b) => b.writeUInt16LE(5, 0x278 + 4 + 128), C.FORMAT],
  ['certification size past signed data', (b) => b.writeUInt32LE(5000, 0x278 + 4 + 130), C.TRUNCATED],
];
for (const [name, mutate, code] of bad) {
  test(`rejects ${name}`, (t) => {
    const b = Buffer.from(tdxQuote());
    mutate(b);
    throwsCode(t, () => parseTdxQuote(b), code);
  });
}

test('rejects a truncated quote naming the field and offset', (t) => {
  const e = throwsCode(t, () => parseTdxQuote(tdxQuote().subarray(0, 0x100)), C.TRUNCATED);
  t.regex(e.message, /TD quote body at offset 0x30/);
});
