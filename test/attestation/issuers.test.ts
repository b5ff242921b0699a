import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emulatorAttestationConfig as config, mountEmulators, type Emulators } from '../emulators/harness.js';
import { silentLogger } from '../../lib/log.js';
import { createIssuer, detectPlatform } from '../../lib/attestation/platform.js';
import { createValidators } from '../../lib/attestation/validators.js';
import { decodeSnpDocument } from '../../lib/attestation/snp-document.js';
import { decodeTdxDocument } from '../../lib/attestation/tdx-document.js';
import { nativeTeeAccess } from '../../lib/attestation/native-tee.js';
import { INTEL_SGX_ROOT_CA_PEM } from '../../lib/attestation/intel-root.js';
import { ATTESTATION_ERROR_CODES as C } from '../../lib/attestation/errors.js';
import { serveHttp } from '../helpers/http-server.js';
import { protocDecode, rejectsCode } from './helpers.js';
import { Command } from 'commander';
import { registerReportCommand } from '../../initializer/report-command.js';

/** protoc's text-format escaping of a bytes field. */
function cEscape(b: Buffer): string {
  let s = '';
  for (const x of b) {
    if (x === 0x0a) s += '\\n';
    else if (x === 0x0d) s += '\\r';
    else if (x === 0x09) s += '\\t';
    else if (x === 0x22) s += '\\"';
    else if (x === 0x27) s += "\\'";
    else if (x === 0x5c) s += '\\\\';
    else if (x >= 0x20 && x < 0x7f) s += String.fromCharCode(x);
    else s += '\\' + x.toString(8).padStart(3, '0');
  }
  return s;
}

// One emulator for the file (mounting several at once in one process races in the key cache);
// tests that set a fault run serially (before the concurrent ones) and reset it.
let shared: Emulators | undefined;
test.before(async () => {
  shared = await mountEmulators();
});
test.after.always(async () => {
  await shared?.unmount();
});

function emulators(_t?: unknown): Promise<Emulators> {
  if (shared === undefined) throw new Error('emulators not mounted');
  return Promise.resolve(shared);
}

async function withFault(
  t: { teardown: (f: () => Promise<void>) => void },
  emu: Emulators,
  device: 'snp' | 'tdx' | 'tsm',
  fault: 'eio' | 'certs-quirk',
): Promise<void> {
  await emu.setFault(device, fault);
  t.teardown(() => emu.setFault(device, 'none'));
}

const snpValidator = (emu: Emulators) =>
  createValidators({ snp: { trustedArkPems: [emu.keys.askPem + emu.keys.arkPem] } })[0]!;

test('SEV-SNP through configfs-tsm: the document decodes with protoc, carries the report data and validates', async (t) => {
  const emu = await emulators(t);
  const issuer = await createIssuer(config(emu, { tsmReportDir: emu.tsmSnpDir }), silentLogger(), {
    tee: () => Promise.resolve(nativeTeeAccess()),
  });
  t.is(issuer.kind, 'snp');
  t.is(issuer.oid, '1.3.9901.2.1');
  const reportData = randomBytes(64);
  const doc = Buffer.from(await issuer.issue(reportData));
  const text = protocDecode('sevsnp.Attestation', 'sevsnp.proto', doc);
  t.true(text.includes(`report_data: "${cEscape(reportData)}"`));
  t.true(text.includes(`host_data: "${cEscape(emu.config.hostData)}"`));
  t.regex(text, /vcek_cert: "/);
  t.regex(text, /name: SEV_PRODUCT_MILAN\n\s*machine_stepping \{\n\s*\}/);
  const decoded = decodeSnpDocument(doc);
  t.is(decoded.product, 'Milan'); // from the report's CPUID bytes (v3)
  t.true(decoded.chain?.vcek?.equals(emu.keys.vcekDer));
  const v = await snpValidator(emu).validate(doc, reportData);
  t.true(Buffer.from(v.hostData).equals(emu.config.hostData));
  await rejectsCode(t, snpValidator(emu).validate(doc, randomBytes(64)), C.REPORT_DATA_MISMATCH);
});

test('SEV-SNP through the /dev/sev-guest ioctl (extended report with the host certificate table)', async (t) => {
  const emu = await emulators(t);
  const issuer = await createIssuer(config(emu, { snpDevice: emu.snpDevice }), silentLogger(), {
    tee: () => Promise.resolve(nativeTeeAccess()),
  });
  const reportData = randomBytes(64);
  const doc = Buffer.from(await issuer.issue(reportData));
  t.true(protocDecode('sevsnp.Attestation', 'sevsnp.proto', doc).includes(`report_data: "${cEscape(reportData)}"`));
  const decoded = decodeSnpDocument(doc);
  t.truthy(decoded.chain?.ask);
  t.truthy(decoded.chain?.ark);
  const v = await snpValidator(emu).validate(doc, reportData);
  t.true(Buffer.from(v.hostData).equals(emu.config.hostData));
  t.like(v.details, { vmpl: 0, product: 'Milan-B0' });
});

test.serial('SEV-SNP ioctl on a kernel that returns 0 for a too-small certificate buffer still issues', async (t) => {
  const emu = await emulators(t);
  await withFault(t, emu, 'snp', 'certs-quirk');
  const issuer = await createIssuer(config(emu, { snpDevice: emu.snpDevice }), silentLogger(), {
    tee: () => Promise.resolve(nativeTeeAccess()),
  });
  const reportData = randomBytes(64);
  await t.notThrowsAsync(snpValidator(emu).validate(await issuer.issue(reportData), reportData));
});

test('TDX through configfs-tsm: QuoteV4 decodes with protoc, carries the report data, host data = MRCONFIGID[0:32]', async (t) => {
  const emu = await emulators(t);
  const issuer = await createIssuer(config(emu, { tsmReportDir: emu.tsmTdxDir }), silentLogger());
  t.is(issuer.kind, 'tdx');
  t.is(issuer.oid, '1.3.9901.2.2');
  const reportData = randomBytes(64);
  const doc = Buffer.from(await issuer.issue(reportData));
  const text = protocDecode('tdx.QuoteV4', 'tdx.proto', doc);
  t.true(text.includes(`report_data: "${cEscape(reportData)}"`));
  t.true(text.includes(`mr_td: "${cEscape(emu.config.mrTd)}"`));
  t.is(text.match(/^\s*rtmrs: /gm)?.length, 4);
  t.is(decodeTdxDocument(doc).version, 4);
  const [validator] = createValidators({ tdx: { trustedRootPems: [emu.keys.tdxRootPem] } });
  const v = await validator!.validate(doc, reportData);
  t.true(Buffer.from(v.hostData).equals(emu.config.mrConfigId.subarray(0, 32)));
  // The real Intel root does not anchor the emulator's chain.
  const [real] = createValidators({ tdx: { trustedRootPems: [INTEL_SGX_ROOT_CA_PEM] } });
  await rejectsCode(t, real!.validate(doc, reportData), C.CHAIN);
});

test('platform detection: explicit modes find only their own kind', async (t) => {
  const emu = await emulators(t);
  t.like(await detectPlatform(config(emu, { tsmReportDir: emu.tsmTdxDir })), { kind: 'tdx' });
  t.like(await detectPlatform(config(emu, { tsmReportDir: emu.tsmSnpDir })), {
    kind: 'snp',
    source: { kind: 'configfs' },
  });
  t.like(await detectPlatform(config(emu, { snpDevice: emu.snpDevice })), { kind: 'snp', source: { kind: 'ioctl' } });
  await rejectsCode(t, detectPlatform(config(emu, { mode: 'snp', tsmReportDir: emu.tsmTdxDir })), C.NO_PLATFORM);
  await rejectsCode(
    t,
    detectPlatform(config(emu, { mode: 'tdx', tsmReportDir: emu.tsmSnpDir, snpDevice: emu.snpDevice })),
    C.NO_PLATFORM,
  );
  // A TDX device without configfs-tsm cannot produce quotes: named in the error.
  const err = await rejectsCode(t, detectPlatform(config(emu, { tdxDevice: emu.tdxDevice })), C.NO_PLATFORM);
  t.regex(err.message, /configfs-tsm/);
});

test.serial('device failures surface as typed errors', async (t) => {
  const emu = await emulators(t);
  await withFault(t, emu, 'tsm', 'eio');
  const issuer = await createIssuer(config(emu, { tsmReportDir: emu.tsmSnpDir }), silentLogger(), {
    tee: () => Promise.resolve(nativeTeeAccess()),
  });
  const err = await rejectsCode(t, issuer.issue(randomBytes(64)), C.DEVICE);
  t.regex(err.message, /outblob|auxblob/);
  await rejectsCode(t, issuer.issue(randomBytes(10)), C.INVALID_ARGUMENT);
});

test('missing host certificates are fetched from the key server (VCEK by chip id and reported TCB)', async (t) => {
  const emu = await emulators(t);
  const urls: string[] = [];
  const base = await serveHttp(t, (req, res) => {
    urls.push(req.url ?? '');
    if (req.url?.endsWith('/cert_chain') === true) res.end(emu.keys.askPem + emu.keys.arkPem);
    else res.end(emu.keys.vcekDer);
  });
  const noHostCerts = { ...nativeTeeAccess(), parseSnpCertTable: () => [] };
  const issuer = await createIssuer(
    config(emu, { tsmReportDir: emu.tsmSnpDir, kdsBaseUrl: base, kdsTimeoutMs: 10_000 }),
    silentLogger(),
    { tee: () => Promise.resolve(noHostCerts) },
  );
  const reportData = randomBytes(64);
  const doc = await issuer.issue(reportData);
  t.true(decodeSnpDocument(doc).chain?.vcek?.equals(emu.keys.vcekDer));
  t.true(urls.some((u) => u.startsWith('/vcek/v1/Milan/') && u.includes('?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115')));
  await t.notThrowsAsync(snpValidator(emu).validate(doc, reportData));
});

test('an unresponsive key server does not block issuing beyond the bound; the document has no chain', async (t) => {
  const emu = await emulators(t);
  const base = await serveHttp(t, () => {
    /* never answers */
  });
  const noHostCerts = { ...nativeTeeAccess(), parseSnpCertTable: () => [] };
  const issuer = await createIssuer(
    config(emu, { tsmReportDir: emu.tsmSnpDir, kdsBaseUrl: base, kdsTimeoutMs: 300 }),
    silentLogger(),
    { tee: () => Promise.resolve(noHostCerts) },
  );
  const doc = decodeSnpDocument(await issuer.issue(randomBytes(64)));
  t.is(doc.chain, undefined);
});

test('contrast-initializer report: a base64 SNP document over zero report data, through the default native access', async (t) => {
  const emu = await emulators(t);
  const out: string[] = [];
  const program = new Command('contrast-initializer').exitOverride();
  registerReportCommand(program, {
    stdout: (s) => out.push(s),
    logger: silentLogger,
    env: {
      CONTRAST_TSM_REPORT_DIR: emu.tsmSnpDir,
      CONTRAST_SNP_DEVICE: `${emu.mountpoint}/absent`,
      CONTRAST_KDS_TIMEOUT: '0',
    },
  });
  await program.parseAsync(['report'], { from: 'user' });
  t.is(out.length, 1);
  const doc = Buffer.from(out[0]!, 'base64');
  t.true(protocDecode('sevsnp.Attestation', 'sevsnp.proto', doc).includes(`report_data: "${'\\000'.repeat(64)}"`));
  await t.notThrowsAsync(snpValidator(emu).validate(doc, Buffer.alloc(64)));
});

test.serial('SEV-SNP v2 reports (no CPUID bytes) take the product from /proc/cpuinfo', async (t) => {
  const emu = await mountEmulators({ reportVersion: 2 });
  t.teardown(() => emu.unmount());
  const dir = mkdtempSync(join(tmpdir(), `att-cpuinfo-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(
    join(dir, 'cpuinfo'),
    'processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9654\n',
  );
  const issuer = await createIssuer(
    config(emu, { tsmReportDir: emu.tsmSnpDir, cpuinfoPath: join(dir, 'cpuinfo') }),
    silentLogger(),
    { tee: () => Promise.resolve(nativeTeeAccess()) },
  );
  const doc = decodeSnpDocument(await issuer.issue(randomBytes(64)));
  t.is(doc.report.version, 2);
  t.is(doc.product, 'Genoa');
});
