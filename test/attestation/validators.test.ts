import test from 'ava';
import { parseSnpReport } from '../../lib/attestation/snp-report.js';
import { encodeSnpDocument } from '../../lib/attestation/snp-document.js';
import { parseTdxQuote } from '../../lib/attestation/tdx-quote.js';
import { encodeTdxDocument } from '../../lib/attestation/tdx-document.js';
import { createValidators, SnpValidator, TdxValidator } from '../../lib/attestation/validators.js';
import { InsecureIssuer, InsecureValidator } from '../../lib/attestation/insecure.js';
import { ATTESTATION_ERROR_CODES as C } from '../../lib/attestation/errors.js';
import {
  flipBit,
  genoaAskArk,
  intelRoot,
  milanAskArk,
  milanReport,
  milanVcek,
  rejectsCode,
  tdxQuote,
} from './helpers.js';

const now = (): Date => new Date('2026-01-01T00:00:00Z');
const expectedSnp = Buffer.concat([Buffer.from([1, 2, 3, 4, 5]), Buffer.alloc(59)]);
const snpDoc = (raw = milanReport(), vcek: Buffer | null = milanVcek()): Buffer =>
  encodeSnpDocument({
    report: parseSnpReport(raw),
    product: 'Milan',
    machineStepping: 0,
    ...(vcek !== null ? { chain: { vcek } } : {}),
  });

test('createValidators returns one validator per configured kind, insecure only when allowed', (t) => {
  t.deepEqual(
    createValidators({}).map((v) => v.kind),
    [],
  );
  t.deepEqual(
    createValidators({ snp: { trustedArkPems: [milanAskArk()] }, tdx: { trustedRootPems: [intelRoot()] } }).map((v) => [
      v.kind,
      v.oid,
    ]),
    [
      ['snp', '1.3.9901.2.1'],
      ['tdx', '1.3.9901.2.2'],
    ],
  );
  t.deepEqual(
    createValidators({ allowInsecure: true }).map((v) => v.kind),
    ['insecure'],
  );
});

test('SNP: the real sample validates and yields HOST_DATA and details', async (t) => {
  const v = new SnpValidator({ trustedArkPems: [milanAskArk()], now });
  const r = await v.validate(snpDoc(), expectedSnp);
  t.is(r.kind, 'snp');
  t.true(Buffer.from(r.hostData).equals(Buffer.alloc(32)));
  t.like(r.details, {
    measurement: 'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01',
    product: 'Milan-B0',
  });
});

test('SNP: wrong report data, a flipped bit, foreign anchors and a missing VCEK are rejected', async (t) => {
  const v = new SnpValidator({ trustedArkPems: [milanAskArk()], now });
  await rejectsCode(t, v.validate(snpDoc(), Buffer.alloc(64)), C.REPORT_DATA_MISMATCH);
  await rejectsCode(t, v.validate(snpDoc(flipBit(milanReport(), 0x95, 2)), expectedSnp), C.SIGNATURE);
  await rejectsCode(
    t,
    new SnpValidator({ trustedArkPems: [genoaAskArk()], now }).validate(snpDoc(), expectedSnp),
    C.CHAIN,
  );
  await rejectsCode(t, v.validate(snpDoc(milanReport(), null), expectedSnp), C.CHAIN);
  await rejectsCode(t, v.validate(Buffer.from('not a document'), expectedSnp), C.DOCUMENT);
});

test('SNP: a missing VCEK can come from the fetch hook', async (t) => {
  const v = new SnpValidator({ trustedArkPems: [milanAskArk()], now, fetchLeaf: () => Promise.resolve(milanVcek()) });
  await t.notThrowsAsync(v.validate(snpDoc(milanReport(), null), expectedSnp));
});

test('SNP: only the ARK is pinned; an ASK-only bundle anchors nothing', async (t) => {
  const askOnly = milanAskArk().split('-----END CERTIFICATE-----')[0]! + '-----END CERTIFICATE-----\n';
  await rejectsCode(t, new SnpValidator({ trustedArkPems: [askOnly], now }).validate(snpDoc(), expectedSnp), C.CHAIN);
});

test('TDX: the real quote validates; host data is MRCONFIGID[0:32]', async (t) => {
  const q = parseTdxQuote(tdxQuote());
  const v = new TdxValidator({ trustedRootPems: [intelRoot()], now });
  const r = await v.validate(encodeTdxDocument(q), q.body.reportData);
  t.true(Buffer.from(r.hostData).equals(q.body.mrConfigId.subarray(0, 32)));
  t.is(r.hostData.length, 32);
  t.like(r.details, { mrTd: q.body.mrTd.toString('hex') });
  await rejectsCode(t, v.validate(encodeTdxDocument(q), Buffer.alloc(64)), C.REPORT_DATA_MISMATCH);
  await rejectsCode(
    t,
    v.validate(encodeTdxDocument(parseTdxQuote(flipBit(tdxQuote(), 0x100, 0))), q.body.reportData),
    C.SIGNATURE,
  );
  await rejectsCode(
    t,
    new TdxValidator({ trustedRootPems: [milanAskArk()], now }).validate(encodeTdxDocument(q), q.body.reportData),
    C.CHAIN,
  );
});

test('insecure: issuer and validator agree; report data must match', async (t) => {
  const rd = Buffer.alloc(64, 3);
  const doc = await new InsecureIssuer(Buffer.alloc(32, 4)).issue(rd);
  const r = await new InsecureValidator().validate(doc, rd);
  t.true(Buffer.from(r.hostData).equals(Buffer.alloc(32, 4)));
  await rejectsCode(t, new InsecureValidator().validate(doc, Buffer.alloc(64)), C.REPORT_DATA_MISMATCH);
  await rejectsCode(t, new InsecureIssuer(Buffer.alloc(32)).issue(Buffer.alloc(63)), C.INVALID_ARGUMENT);
});
