/** SEV-SNP claims for mesh certificates: DER encodings and the claim table on a real Milan report. */
import test from 'ava';
import { parseSnpReport } from '../../lib/attestation/snp-report.js';
import { derBoolean, derInteger, derOctets, snpClaims } from '../../lib/coordinator/snp-claims.js';
import { milanReport } from '../attestation/helpers.js';

test('DER INTEGER, BOOLEAN and OCTET STRING', (t) => {
  t.is(derInteger(0).toString('hex'), '020100');
  t.is(derInteger(127).toString('hex'), '02017f');
  t.is(derInteger(128).toString('hex'), '02020080');
  t.is(derInteger(0xffffffffffffffffn).toString('hex'), '020900ffffffffffffffff');
  t.throws(() => derInteger(-1), { instanceOf: RangeError });
  t.is(derBoolean(true).toString('hex'), '0101ff');
  t.is(derBoolean(false).toString('hex'), '010100');
  t.is(derOctets(Buffer.alloc(64, 1)).subarray(0, 2).toString('hex'), '0440');
  t.is(derOctets(Buffer.alloc(200)).subarray(0, 3).toString('hex'), '0481c8');
});

test('claims 1.3.9901.2.1.1..46 of a real Milan report', (t) => {
  const report = parseSnpReport(milanReport());
  const claims = snpClaims(report);
  t.deepEqual(
    claims.map((c) => c.oid),
    Array.from({ length: 46 }, (_, i) => `1.3.9901.2.1.${i + 1}`),
  );
  const get = (n: number): Buffer => claims[n - 1]?.value ?? Buffer.alloc(0);
  t.deepEqual(get(1), derInteger(report.version));
  t.deepEqual(get(11), derInteger(report.vmpl));
  t.deepEqual(get(21), derOctets(report.reportData));
  t.deepEqual(get(22), derOctets(report.measurement));
  t.deepEqual(get(23), derOctets(report.hostData));
  t.deepEqual(get(32), derOctets(report.chipId));
  t.deepEqual(get(3), derInteger((report.policy >>> 8) & 0xff));
  t.deepEqual(get(5), derBoolean(((report.policy >>> 19) & 1) === 1));
  t.deepEqual(get(20), derInteger((report.signerInfo >>> 2) & 7));
  // reported TCB microcode is the top byte of REPORTED_TCB
  t.deepEqual(get(31), derInteger(Number(report.reportedTcb >> 56n)));
});
