import test from 'ava';
import { kdsChainUrl, kdsVcekUrl } from '../../lib/attestation/snp-kds.js';
import { parseSnpReport } from '../../lib/attestation/snp-report.js';
import { milanReport } from './helpers.js';

test('VCEK URL: Milan uses the 64-byte chip id and REPORTED_TCB (bl 2, tee 0, snp 5, ucode 68)', (t) => {
  const r = parseSnpReport(milanReport());
  t.is(
    kdsVcekUrl('https://kds.example', 'Milan', r),
    `https://kds.example/vcek/v1/Milan/${r.chipId.toString('hex')}?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68`,
  );
  t.is(kdsChainUrl('https://kds.example', 'Genoa'), 'https://kds.example/vcek/v1/Genoa/cert_chain');
});

test('VCEK URL: Turin uses an 8-byte hwid, FMC first in the TCB, and fmcSPL', (t) => {
  const raw = Buffer.from(milanReport());
  // Turin TCB bytes: fmc 1, bl 2, tee 3, snp 4, ..., ucode 9
  Buffer.from([1, 2, 3, 4, 0, 0, 0, 9]).copy(raw, 0x180);
  const r = parseSnpReport(raw);
  t.is(
    kdsVcekUrl('https://kds.example', 'Turin', r),
    `https://kds.example/vcek/v1/Turin/${r.chipId.subarray(0, 8).toString('hex')}?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=9`,
  );
});
