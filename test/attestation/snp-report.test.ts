import test from 'ava';
import {
  parseSnpReport,
  SNP_SIGNED_END,
  tcbParts,
  cpuid1EaxFromFms,
  fmsFromCpuid1Eax,
} from '../../lib/attestation/snp-report.js';
import { verifySnpReport, verifySnpReportSignature } from '../../lib/attestation/snp-verify.js';
import { loadCertificates, splitAnchors } from '../../lib/attestation/certs.js';
import { productFromCpuinfo } from '../../lib/attestation/snp-product.js';
import { checkVcekMatchesReport, parseVcekExtensions } from '../../lib/attestation/snp-vcek.js';
import { AttestationError, ATTESTATION_ERROR_CODES as C } from '../../lib/attestation/errors.js';
import { flipBit, genoaAskArk, milanAskArk, milanReport, milanVcek, throwsCode } from './helpers.js';

const NOW = new Date('2026-01-01T00:00:00Z');

function milanOpts(): Parameters<typeof verifySnpReport>[1] {
  const { roots, others } = splitAnchors(loadCertificates(milanAskArk(), 'ask-ark'));
  return { leaf: loadCertificates(milanVcek(), 'vcek')[0]!, intermediates: others, anchors: roots, now: NOW };
}

// Expected values read by hand from `xxd milan-report.bin` at the offsets of tee-abi.md §1.7.
test('milan-report.bin parses to the values in its bytes', (t) => {
  const r = parseSnpReport(milanReport());
  t.is(r.version, 2); // 0x00: 02 00 00 00
  t.is(r.guestSvn, 0);
  t.is(r.policy, 0xb0000); // 0x08: 00 00 0b 00 00 00 00 00
  t.is(r.familyId.toString('hex'), '00'.repeat(16));
  t.is(r.vmpl, 0);
  t.is(r.signatureAlgo, 1); // 0x34
  t.is(r.currentTcb, 0x4405000000000002n); // 0x38: 02 00 00 00 00 00 05 44
  t.is(r.platformInfo, 1n); // 0x40
  t.is(r.signerInfo, 0);
  t.is(r.signingKey, 'vcek');
  t.is(r.reportData.toString('hex'), '0102030405' + '00'.repeat(59));
  t.is(
    r.measurement.toString('hex'),
    'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01',
  );
  t.is(r.hostData.toString('hex'), '00'.repeat(32));
  t.is(r.reportId.toString('hex'), '8edc638e1857c555d21f6b11bda3c8b1b5a09dba4852b4c8ee7aa2f16f22cc0a');
  t.is(r.reportIdMa.toString('hex'), 'ff'.repeat(32));
  t.is(r.reportedTcb, 0x4405000000000002n); // 0x180
  t.deepEqual(tcbParts(r.reportedTcb, false), { bootloader: 2, tee: 0, snp: 5, microcode: 0x44 });
  t.is(r.cpuidFamily, 0);
  t.is(
    r.chipId.toString('hex'),
    '3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d',
  );
  t.is(r.committedTcb, 0x4405000000000002n);
  t.deepEqual([r.currentMajor, r.currentMinor, r.currentBuild], [1, 0x31, 3]); // 0x1e8: 03 31 01
  t.deepEqual([r.committedMajor, r.committedMinor, r.committedBuild], [1, 0x31, 3]); // 0x1ec
  t.is(r.launchTcb, 0x4405000000000002n);
  t.is(r.launchMitVector, 0n);
});

test('the VCEK extensions match the report (hand-read from openssl x509 -text)', (t) => {
  const info = parseVcekExtensions(loadCertificates(milanVcek(), 'vcek')[0]!);
  t.is(info.productName, 'Milan-B0');
  t.deepEqual([info.blSpl, info.teeSpl, info.snpSpl, info.ucodeSpl], [2, 0, 5, 68]);
  t.is(info.hwId?.toString('hex'), parseSnpReport(milanReport()).chipId.toString('hex'));
});

test('signature and chain VCEK -> ASK -> ARK verify', (t) => {
  const { chain, vcek } = verifySnpReport(parseSnpReport(milanReport()), milanOpts());
  t.deepEqual(
    chain.map((c) => /CN=(.*)/.exec(c.subject)?.[1]),
    ['SEV-VCEK', 'SEV-Milan', 'ARK-Milan'],
  );
  t.is(vcek.productName, 'Milan-B0');
});

test('one flipped bit anywhere in the signed range fails the signature', (t) => {
  const raw = milanReport();
  const original = parseSnpReport(raw);
  const key = milanOpts().leaf.publicKey;
  t.notThrows(() => {
    verifySnpReportSignature(original, key);
  });
  for (let i = 0; i < SNP_SIGNED_END; i++) {
    const flipped = { raw: flipBit(raw, i, i % 8), signature: original.signature };
    throwsCode(
      t,
      () => {
        verifySnpReportSignature(flipped, key);
      },
      C.SIGNATURE,
    );
  }
  // and in R or S
  for (const off of [0, 47, 72, 72 + 47]) {
    const sig = flipBit(original.signature, off, 3);
    throwsCode(
      t,
      () => {
        verifySnpReportSignature({ raw, signature: sig }, key);
      },
      C.SIGNATURE,
    );
  }
});

test('every flipped bit byte in the signed range fails full verification with a typed error', (t) => {
  const raw = milanReport();
  const opts = milanOpts();
  for (let i = 0; i < SNP_SIGNED_END; i += 7) {
    t.throws(() => verifySnpReport(parseSnpReport(flipBit(raw, i, (i >> 3) % 8)), opts), {
      instanceOf: AttestationError,
    });
  }
});

test('the wrong product anchors reject the chain', (t) => {
  const { roots, others } = splitAnchors(loadCertificates(genoaAskArk(), 'genoa'));
  throwsCode(
    t,
    () => verifySnpReport(parseSnpReport(milanReport()), { ...milanOpts(), intermediates: others, anchors: roots }),
    C.CHAIN,
  );
});

test('a clock outside the VCEK validity rejects the chain', (t) => {
  throwsCode(
    t,
    () => verifySnpReport(parseSnpReport(milanReport()), { ...milanOpts(), now: new Date('2030-01-01T00:00:00Z') }),
    C.CHAIN,
  );
});

test('a REPORTED_TCB or CHIP_ID disagreeing with the VCEK is rejected', (t) => {
  // Altering the report breaks its signature first, so the comparison is checked on its own.
  const info = parseVcekExtensions(milanOpts().leaf);
  t.notThrows(() => {
    checkVcekMatchesReport(info, parseSnpReport(milanReport()));
  });
  const tcb = Buffer.from(milanReport());
  tcb.writeUInt8(3, 0x180); // blSPL 3 instead of 2
  throwsCode(
    t,
    () => {
      checkVcekMatchesReport(info, parseSnpReport(tcb));
    },
    C.TCB_MISMATCH,
  );
  const chip = Buffer.from(milanReport());
  chip.writeUInt8(0, 0x1a0);
  throwsCode(
    t,
    () => {
      checkVcekMatchesReport(info, parseSnpReport(chip));
    },
    C.TCB_MISMATCH,
  );
});

const bad: Array<[string, (b: Buffer) => void, string]> = [
  ['version 1', (b) => b.writeUInt32LE(1, 0), C.UNSUPPORTED_VERSION],
  ['version 6', (b) => b.writeUInt32LE(6, 0), C.UNSUPPORTED_VERSION],
  ['signature algo 2', (b) => b.writeUInt32LE(2, 0x34), C.FORMAT],
  ['policy bit 17 clear', (b) => b.writeUInt32LE(0x90000, 0x08), C.FORMAT],
  ['policy bit 40', (b) => b.writeUInt8(1, 0x08 + 5), C.FORMAT],
  ['reserved 0x4c', (b) => b.writeUInt8(1, 0x4c), C.FORMAT],
  ['v2 cpuid bytes', (b) => b.writeUInt8(0x19, 0x188), C.FORMAT],
  ['signer info bit 5', (b) => b.writeUInt8(0x20, 0x48), C.FORMAT],
  ['signature tail', (b) => b.writeUInt8(1, 0x400), C.FORMAT],
];
for (const [name, mutate, code] of bad) {
  test(`rejects ${name}`, (t) => {
    const b = Buffer.from(milanReport());
    mutate(b);
    throwsCode(t, () => parseSnpReport(b), code);
  });
}

test('rejects short and long input, naming the size', (t) => {
  const e = throwsCode(t, () => parseSnpReport(milanReport().subarray(0, 100)), C.TRUNCATED);
  t.regex(e.message, /100 bytes, expected at least 1184/);
  throwsCode(t, () => parseSnpReport(Buffer.concat([milanReport(), Buffer.alloc(1)])), C.FORMAT);
});

test('v3 reports carry CPUID bytes; v5 carries mitigation vectors', (t) => {
  const b = Buffer.from(milanReport());
  b.writeUInt32LE(5, 0);
  b.writeUInt8(0x1a, 0x188);
  b.writeUInt8(0x02, 0x189);
  b.writeUInt8(0x01, 0x18a);
  b.writeBigUInt64LE(7n, 0x1f8);
  b.writeBigUInt64LE(9n, 0x200);
  const r = parseSnpReport(b);
  t.deepEqual([r.cpuidFamily, r.cpuidModel, r.cpuidStepping], [0x1a, 0x02, 0x01]);
  t.deepEqual([r.launchMitVector, r.currentMitVector], [7n, 9n]);
  b.writeUInt32LE(4, 0);
  throwsCode(t, () => parseSnpReport(b), C.FORMAT); // mitigation vectors are reserved before v5
});

test('CPUID(1).EAX packing round-trips (Milan 0x00A00F11, Genoa 0x00A10F11, Turin 0x00B00F21)', (t) => {
  t.is(cpuid1EaxFromFms(0x19, 0x01, 1), 0x00a00f11);
  t.is(cpuid1EaxFromFms(0x19, 0x11, 1), 0x00a10f11);
  t.is(cpuid1EaxFromFms(0x1a, 0x02, 1), 0x00b00f21);
  t.deepEqual(fmsFromCpuid1Eax(0x00a10f11), { family: 0x19, model: 0x11, stepping: 1 });
});

test('Turin TCB byte order puts FMC first', (t) => {
  t.deepEqual(tcbParts(0x4400000005000302n, true), { fmc: 2, bootloader: 3, tee: 0, snp: 5, microcode: 0x44 });
});

test('product from /proc/cpuinfo family and model (decimal)', (t) => {
  const cpuinfo = (family: number, model: number): string =>
    `processor\t: 0\ncpu family\t: ${family}\nmodel\t\t: ${model}\nstepping\t: 1\n`;
  t.is(productFromCpuinfo(cpuinfo(25, 1)), 'Milan');
  t.is(productFromCpuinfo(cpuinfo(25, 17)), 'Genoa');
  t.is(productFromCpuinfo(cpuinfo(26, 2)), 'Turin');
  t.is(productFromCpuinfo(cpuinfo(23, 49)), 'Unknown');
  t.is(productFromCpuinfo('garbage'), 'Unknown');
});
