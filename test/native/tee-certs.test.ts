import test from 'ava';
import {
  encodeSnpCertTable,
  parseSnpCertTable,
  SnpCertTableError,
  SNP_CERT_GUIDS,
  trimSnpCertTable,
} from '../../lib/native/tee.js';

const vcek = Buffer.from('vcek-der-bytes');
const ask = Buffer.from('ask-der');
const ark = Buffer.from('ark-der-bytes!!');
const table = encodeSnpCertTable([
  { guid: SNP_CERT_GUIDS.vcek, der: vcek },
  { guid: SNP_CERT_GUIDS.ask, der: ask },
  { guid: SNP_CERT_GUIDS.ark, der: ark },
]);

test('encode and parse round-trip, GUIDs in RFC 4122 byte order', (t) => {
  t.is(table.length, 4 * 24 + vcek.length + ask.length + ark.length);
  t.is(table.subarray(0, 16).toString('hex'), '63da758de6644564adc5f4b93be8accd');
  t.is(table.readUInt32LE(16), 96);
  t.deepEqual(parseSnpCertTable(table), [
    { guid: SNP_CERT_GUIDS.vcek, name: 'vcek', der: vcek },
    { guid: SNP_CERT_GUIDS.ask, name: 'ask', der: ask },
    { guid: SNP_CERT_GUIDS.ark, name: 'ark', der: ark },
  ]);
});

test('the ASK GUID names the ASVK when a VLEK is present; unknown GUIDs are kept', (t) => {
  const other = '11111111-2222-3333-4444-555555555555';
  const t2 = encodeSnpCertTable([
    { guid: SNP_CERT_GUIDS.vlek, der: vcek },
    { guid: SNP_CERT_GUIDS.ask, der: ask },
    { guid: other, der: ark },
  ]);
  t.deepEqual(
    parseSnpCertTable(t2).map((e) => e.name),
    ['vlek', 'asvk', 'unknown'],
  );
  t.is(parseSnpCertTable(t2)[2]?.guid, other);
});

test('no certificates: empty and all-zero buffers', (t) => {
  t.deepEqual(parseSnpCertTable(Buffer.alloc(0)), []);
  t.deepEqual(parseSnpCertTable(Buffer.alloc(4096)), []);
  t.is(trimSnpCertTable(Buffer.alloc(4096)).length, 0);
  t.is(trimSnpCertTable(Buffer.alloc(0)).length, 0);
});

test('trim keeps the table up to the end of the last certificate', (t) => {
  const page = Buffer.alloc(8192);
  table.copy(page);
  t.deepEqual(trimSnpCertTable(page), table);
});

test('every truncation of a table is rejected with ERR_SNP_CERT_TABLE, never misread', (t) => {
  for (let n = 1; n < table.length; n++) {
    const err = t.throws(
      () => parseSnpCertTable(table.subarray(0, n)),
      { instanceOf: SnpCertTableError },
      `prefix ${n}`,
    );
    t.is(err.code, 'ERR_SNP_CERT_TABLE');
  }
});

test('entries pointing into the entry array or past the end are rejected', (t) => {
  const intoEntries = Buffer.from(table);
  intoEntries.writeUInt32LE(24, 16);
  t.throws(() => parseSnpCertTable(intoEntries), { instanceOf: SnpCertTableError, message: /offset 24/ });
  const pastEnd = Buffer.from(table);
  pastEnd.writeUInt32LE(10_000, 20);
  t.throws(() => parseSnpCertTable(pastEnd), { instanceOf: SnpCertTableError });
  t.throws(() => encodeSnpCertTable([{ guid: 'not-a-guid', der: vcek }]), { instanceOf: SnpCertTableError });
});
