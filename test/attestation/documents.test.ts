import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSnpReport } from '../../lib/attestation/snp-report.js';
import { decodeSnpDocument, encodeSnpDocument } from '../../lib/attestation/snp-document.js';
import { parseTdxQuote } from '../../lib/attestation/tdx-quote.js';
import { decodeTdxDocument, encodeTdxDocument } from '../../lib/attestation/tdx-document.js';
import { decodeInsecureDocument, encodeInsecureDocument } from '../../lib/attestation/insecure.js';
import { ATTESTATION_ERROR_CODES as C } from '../../lib/attestation/errors.js';
import { milanReport, milanVcek, PROTO_DIR, protocDecode, tdxQuote, throwsCode } from './helpers.js';

// The schemas are no longer embedded: the decoders' message descriptions are checked against the
// .proto files in test/protobuf/descriptions.test.ts.

test('an SNP document round-trips to the same raw report and decodes with protoc', (t) => {
  const doc = encodeSnpDocument({
    report: parseSnpReport(milanReport()),
    product: 'Milan',
    machineStepping: 0,
    chain: { vcek: milanVcek() },
  });
  const back = decodeSnpDocument(doc);
  t.true(back.report.raw.equals(milanReport()));
  t.is(back.product, 'Milan');
  t.is(back.machineStepping, 0);
  t.true(back.chain?.vcek?.equals(milanVcek()));
  const text = protocDecode('sevsnp.Attestation', 'sevsnp.proto', doc);
  t.regex(text, /report_data: "\\001\\002\\003\\004\\005(\\000){59}"/);
  t.regex(text, /reported_tcb: 4901323769462652930\n/); // 0x4405000000000002
  t.regex(text, /name: SEV_PRODUCT_MILAN\n\s*machine_stepping \{\n\s*\}/); // present, empty wrapper
  t.notRegex(text, /guest_svn|vmpl:/); // zero scalars are omitted, as in Go
});

test('SNP document bytes: machine_stepping is the empty sub-message 1a 00', (t) => {
  const doc = encodeSnpDocument({ report: parseSnpReport(milanReport()), product: 'Milan', machineStepping: 0 });
  // product = field 3 (0x1a), length 4: name (08 01) + machine_stepping (1a 00)
  t.true(doc.subarray(doc.length - 6).equals(Buffer.from('1a0408011a00', 'hex')));
});

test('a TDX document round-trips to the same quote bytes, extra bytes included, and decodes with protoc', (t) => {
  const doc = encodeTdxDocument(parseTdxQuote(tdxQuote()));
  const back = decodeTdxDocument(doc);
  t.true(Buffer.concat([back.raw, back.extraBytes]).equals(tdxQuote()));
  const text = protocDecode('tdx.QuoteV4', 'tdx.proto', doc);
  t.regex(text, /signed_data_size: 4299/);
  t.is(text.match(/^\s*rtmrs: /gm)?.length, 4);
  t.regex(text, /extra_bytes: "\\nextra bytes\(only for testing purpose\)\\n"/);
});

test('the insecure document is upstream JSON with base64 fields', (t) => {
  const doc = encodeInsecureDocument({ reportData: Buffer.alloc(64, 1), hostData: Buffer.alloc(32, 2) });
  t.deepEqual(Object.keys(JSON.parse(doc.toString()) as object), ['reportData', 'hostData']);
  t.true(decodeInsecureDocument(doc).hostData.equals(Buffer.alloc(32, 2)));
  throwsCode(t, () => decodeInsecureDocument(Buffer.from('{"reportData": 5}')), C.DOCUMENT);
  throwsCode(t, () => decodeInsecureDocument(Buffer.from('[]')), C.DOCUMENT);
});

test('documents with wrong field sizes or garbage are rejected with DOCUMENT', (t) => {
  throwsCode(t, () => decodeSnpDocument(Buffer.from([0x0a, 0x05, 0x5a, 0x01, 0x00, 0x00, 0x00])), C.DOCUMENT);
  throwsCode(t, () => decodeSnpDocument(Buffer.from([0xff, 0xff, 0xff])), C.DOCUMENT);
  throwsCode(t, () => decodeTdxDocument(Buffer.alloc(0)), C.DOCUMENT);
});

test('protoc-encoded documents decode with our reader (independent encoder)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), `att-doc-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const textDoc = `report { version: 2 policy: 720896 signature_algo: 1 report_data: "${'\\001'.repeat(64)}" report_id_ma: "${'\\377'.repeat(32)}" }
product { name: SEV_PRODUCT_GENOA machine_stepping { } }`;
  writeFileSync(join(dir, 'doc.txt'), textDoc);
  const bin = execFileSync(
    'protoc',
    [`-I${PROTO_DIR}`, '-I/usr/include', '--encode=sevsnp.Attestation', 'sevsnp.proto'],
    { input: textDoc },
  );
  const doc = decodeSnpDocument(bin);
  t.is(doc.product, 'Genoa');
  t.true(doc.report.reportData.equals(Buffer.alloc(64, 1)));
  t.is(doc.report.policy, 0xb0000);
});
