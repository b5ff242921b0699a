import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import test from 'ava';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mountEmulators, EMULATOR_DEFAULTS, TEST_PLATFORM, tcbBytes } from '../emulators/harness.js';
import { parseSnpCertTable, snpGetExtReport, snpGetReport, SNP_REPORT_SIZE } from '../../lib/native/tee.js';
import { verifySnpReport } from './tee-helpers.js';

const hostData = randomBytes(32);
const measurement = randomBytes(48);

test("SNP_GET_REPORT through the kernel returns a report signed by the test VCEK over the caller's data", async (t) => {
  const emu = await mountEmulators({ hostData, measurement, reportVersion: 2 });
  t.teardown(() => emu.unmount());
  const reportData = randomBytes(64);
  const report = await snpGetReport(emu.snpDevice, reportData, 1);
  t.is(report.length, SNP_REPORT_SIZE);
  t.is(report.readUInt32LE(0x00), 2, 'version');
  t.is(report.readUInt32LE(0x30), 1, 'vmpl');
  t.is(report.readUInt32LE(0x34), 1, 'signature algorithm');
  t.true((report.readBigUInt64LE(0x08) & (1n << 17n)) !== 0n, 'policy bit 17');
  t.deepEqual(report.subarray(0x50, 0x90), reportData);
  t.deepEqual(report.subarray(0x90, 0xc0), measurement);
  t.deepEqual(report.subarray(0xc0, 0xe0), hostData);
  t.deepEqual(report.subarray(0x180, 0x188), tcbBytes());
  t.deepEqual(report.subarray(0x1a0, 0x1e0), TEST_PLATFORM.chipId);
  t.true(verifySnpReport(report, emu.keys.vcekDer));
  // Negative control: one flipped bit of the report data breaks the signature.
  const tampered = Buffer.from(report);
  tampered[0x50] = (tampered[0x50] ?? 0) ^ 1;
  t.false(verifySnpReport(tampered, emu.keys.vcekDer));
});

test('SNP_GET_EXT_REPORT negotiates the certificate buffer and returns VCEK, ASK and ARK', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  const rows = [
    { name: 'one page first (too small, retried)', initialCertsLength: 4096, tooSmall: 1 },
    { name: 'length query first (0)', initialCertsLength: 0, tooSmall: 1 },
    { name: 'large enough at once', initialCertsLength: 16384, tooSmall: 0 },
  ];
  for (const row of rows) {
    const before = await emu.stats();
    const reportData = randomBytes(64);
    const { report, certTable } = await snpGetExtReport(emu.snpDevice, reportData, 0, {
      initialCertsLength: row.initialCertsLength,
    });
    const after = await emu.stats();
    t.is((after['snp_ext_too_small'] ?? 0) - (before['snp_ext_too_small'] ?? 0), row.tooSmall, row.name);
    t.is((after['snp_ext_report'] ?? 0) - (before['snp_ext_report'] ?? 0), row.tooSmall + 1, row.name);
    t.deepEqual(report.subarray(0x50, 0x90), reportData, row.name);
    t.true(verifySnpReport(report, emu.keys.vcekDer), row.name);
    t.deepEqual(certTable, emu.keys.certTable, row.name);
    const certs = parseSnpCertTable(certTable);
    t.deepEqual(
      certs.map((c) => c.name),
      ['vcek', 'ask', 'ark'],
      row.name,
    );
  }
  // The chain in the table: ARK (self-signed) -> ASK -> VCEK, and the VCEK verifies the report.
  const [vcek, ask, ark] = parseSnpCertTable(emu.keys.certTable).map((c) => new X509Certificate(c.der));
  t.true(ark!.verify(ark!.publicKey));
  t.true(ask!.verify(ark!.publicKey));
  t.true(vcek!.verify(ask!.publicKey));
  t.deepEqual(vcek!.raw, emu.keys.vcekDer);
});

test('the certificate-buffer retry also works when the kernel answers 0 (early-2023 kernels)', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  await emu.setFault('snp', 'certs-quirk');
  const reportData = randomBytes(64);
  const { report, certTable } = await snpGetExtReport(emu.snpDevice, reportData);
  t.deepEqual(report.subarray(0x50, 0x90), reportData);
  t.is(parseSnpCertTable(certTable).length, 3);
  t.is((await emu.stats())['snp_ext_too_small'], 1);
});

test('default emulator configuration is what EMULATOR_DEFAULTS says', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  const report = await snpGetReport(emu.snpDevice, Buffer.alloc(64));
  t.is(report.readUInt32LE(0), EMULATOR_DEFAULTS.reportVersion);
  t.deepEqual(report.subarray(0x90, 0xc0), EMULATOR_DEFAULTS.measurement);
  t.deepEqual(report.subarray(0xc0, 0xe0), EMULATOR_DEFAULTS.hostData);
  t.is(report[0x188], 0x19, 'CPUID family in v3+');
});

test('a host without certificates: the extended report succeeds with an empty table', async (t) => {
  const emu = await mountEmulators({ hostCerts: false });
  t.teardown(() => emu.unmount());
  for (const initialCertsLength of [0, 4096]) {
    const reportData = randomBytes(64);
    const { report, certTable } = await snpGetExtReport(emu.snpDevice, reportData, 0, { initialCertsLength });
    t.deepEqual(report.subarray(0x50, 0x90), reportData);
    t.true(verifySnpReport(report, emu.keys.vcekDer));
    t.is(certTable.length, 0);
    t.deepEqual(parseSnpCertTable(certTable), []);
  }
  t.is((await emu.stats())['snp_ext_too_small'], 0);
  const entry = join(emu.tsmSnpDir, `nocerts-${process.pid}`);
  await mkdir(entry);
  t.teardown(() => rmdir(entry).catch(() => undefined));
  await writeFile(join(entry, 'inblob'), randomBytes(64));
  t.is((await readFile(join(entry, 'auxblob'))).length, 0);
  t.is((await readFile(join(entry, 'outblob'))).length, SNP_REPORT_SIZE);
});

test('the test VCEK carries the KDS extensions of the emulated chip: hwID = CHIP_ID, SPLs = REPORTED_TCB', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  const report = await snpGetReport(emu.snpDevice, Buffer.alloc(64));
  const vcek = new x509.X509Certificate(emu.keys.vcekDer);
  const ext = (suffix: string): Buffer => {
    const e = vcek.getExtension(`1.3.6.1.4.1.3704.1.${suffix}`);
    if (e === null) throw new Error(`VCEK extension .${suffix} missing`);
    return Buffer.from(e.value);
  };
  const int = (suffix: string): number => {
    const v = ext(suffix);
    t.is(v[0], 0x02, `.${suffix} is an INTEGER`);
    return v.subarray(2).reduce((a, b) => a * 256 + b, 0);
  };
  t.deepEqual(ext('4'), report.subarray(0x1a0, 0x1e0), 'hwID is the raw CHIP_ID');
  const tcb = report.subarray(0x180, 0x188);
  t.is(int('3.1'), tcb[0]!, 'blSPL');
  t.is(int('3.2'), tcb[1]!, 'teeSPL');
  t.is(int('3.3'), tcb[6]!, 'snpSPL');
  t.is(int('3.8'), tcb[7]!, 'ucodeSPL');
  t.is(ext('2').subarray(2).toString('ascii'), 'Milan-B0');
  t.regex(vcek.subject, /CN=SEV-VCEK/);
  t.regex(vcek.issuer, /CN=SEV-Milan/);
});
