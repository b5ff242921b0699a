import test from 'ava';
import { createHash, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mountEmulators } from '../emulators/harness.js';
import { parseSnpCertTable } from '../../lib/native/tee.js';
import { p256Key, parseQuoteV4, verifyP256, verifySnpReport } from './tee-helpers.js';

const generation = async (entry: string): Promise<number> =>
  Number((await readFile(join(entry, 'generation'), 'utf8')).trim());

test('configfs-tsm (sev_guest): outblob is a signed report over inblob, auxblob the certificate table', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  const entry = join(emu.tsmSnpDir, `entry-${process.pid}`);
  await mkdir(entry);
  t.deepEqual((await readdir(entry)).sort(), [
    'auxblob',
    'generation',
    'inblob',
    'outblob',
    'privlevel',
    'privlevel_floor',
    'provider',
  ]);
  t.is(await readFile(join(entry, 'provider'), 'utf8'), 'sev_guest\n');
  t.is(await readFile(join(entry, 'privlevel_floor'), 'utf8'), '0\n');
  const g0 = await generation(entry);
  const reportData = randomBytes(64);
  await writeFile(join(entry, 'inblob'), reportData);
  await writeFile(join(entry, 'privlevel'), '2\n');
  const aux = await readFile(join(entry, 'auxblob'));
  const report = await readFile(join(entry, 'outblob'));
  t.is(await generation(entry), g0 + 2);
  t.is(report.length, 0x4a0);
  t.deepEqual(report.subarray(0x50, 0x90), reportData);
  t.is(report.readUInt32LE(0x30), 2, 'privlevel -> VMPL');
  t.true(verifySnpReport(report, emu.keys.vcekDer));
  t.deepEqual(aux, emu.keys.certTable);
  t.deepEqual(
    parseSnpCertTable(aux).map((c) => c.name),
    ['vcek', 'ask', 'ark'],
  );
  await rmdir(entry);
  t.deepEqual(await readdir(emu.tsmSnpDir), []);
});

test('configfs-tsm generation: every write counts, blobs are cached until the next write', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  const entry = join(emu.tsmSnpDir, `gen-${process.pid}`);
  await mkdir(entry);
  t.teardown(() => rmdir(entry).catch(() => undefined));
  t.is(await generation(entry), 0);
  // No inblob yet: reading outblob fails with EINVAL.
  await t.throwsAsync(() => readFile(join(entry, 'outblob')), { code: 'EINVAL' });
  const a = randomBytes(64);
  await writeFile(join(entry, 'inblob'), a);
  t.is(await generation(entry), 1);
  const first = await readFile(join(entry, 'outblob'));
  const again = await readFile(join(entry, 'outblob'));
  t.deepEqual(again, first, 'unchanged generation: the cached report (same REPORT_ID and signature)');
  t.is((await emu.stats())['tsm_generate'], 1);
  // A second writer: the client expecting generation 1 sees 2 and knows its outblob may not be its own.
  const b = randomBytes(64);
  await writeFile(join(entry, 'inblob'), b);
  t.is(await generation(entry), 2);
  const second = await readFile(join(entry, 'outblob'));
  t.deepEqual(second.subarray(0x50, 0x90), b);
  t.notDeepEqual(second.subarray(0x50, 0x90), a);
  t.is((await emu.stats())['tsm_generate'], 2);
  // inblob must be exactly 64 bytes for sev_guest / tdx_guest.
  await writeFile(join(entry, 'inblob'), randomBytes(32));
  t.is(await generation(entry), 3);
  await t.throwsAsync(() => readFile(join(entry, 'outblob')), { code: 'EINVAL' });
  await t.throwsAsync(() => writeFile(join(entry, 'inblob'), randomBytes(65)), { code: 'EFBIG' });
  t.is(await generation(entry), 3, 'a rejected write does not count');
  // Attribute access modes and entry names.
  await t.throwsAsync(() => readFile(join(entry, 'inblob')), { code: 'EACCES' });
  await t.throwsAsync(() => writeFile(join(entry, 'outblob'), 'x'), { code: 'EACCES' });
  await t.throwsAsync(() => mkdir(entry), { code: 'EEXIST' });
  await t.throwsAsync(() => writeFile(join(entry, 'privlevel'), '4'), { code: 'EINVAL' });
});

test('configfs-tsm (tdx_guest): a v4 quote whose attestation key, QE report and PCK chain verify', async (t) => {
  const mrTd = randomBytes(48);
  const mrConfigId = randomBytes(48);
  const emu = await mountEmulators({ mrTd, mrConfigId });
  t.teardown(() => emu.unmount());
  const entry = join(emu.tsmTdxDir, `quote-${process.pid}`);
  await mkdir(entry);
  t.teardown(() => rmdir(entry).catch(() => undefined));
  t.deepEqual((await readdir(entry)).sort(), ['generation', 'inblob', 'outblob', 'provider']);
  t.is(await readFile(join(entry, 'provider'), 'utf8'), 'tdx_guest\n');
  const reportData = randomBytes(64);
  await writeFile(join(entry, 'inblob'), reportData);
  const raw = await readFile(join(entry, 'outblob'));
  t.is(await generation(entry), 1);
  const q = parseQuoteV4(raw);
  t.is(q.version, 4);
  t.is(raw.readUInt16LE(2), 2, 'attestation key type ECDSA P-256');
  t.is(raw.readUInt32LE(4), 0x81, 'TEE type TDX');
  t.deepEqual(q.reportData, reportData);
  t.deepEqual(q.mrTd, mrTd);
  t.deepEqual(q.mrConfigId, mrConfigId);
  // 1. quote signature by the attestation key over [0, 0x278)
  const ak = p256Key(q.attestationKey);
  t.true(verifyP256(raw.subarray(0, 0x278), q.signature, ak));
  t.deepEqual(
    ak.export({ type: 'spki', format: 'der' }),
    createPublicKey(emu.keys.attestationKeyPem).export({ type: 'spki', format: 'der' }),
  );
  // 2. QE report signed by the PCK leaf
  const chain = q.pckChainPem
    .split(/(?<=-----END CERTIFICATE-----\n?)/)
    .filter((s) => s.includes('BEGIN'))
    .map((p) => new X509Certificate(p));
  t.is(chain.length, 3);
  const [pck, platform, root] = chain;
  t.true(verifyP256(q.qeReport, q.qeReportSignature, pck!.publicKey));
  // 3. QE report data binds the attestation key
  const binding = createHash('sha256').update(q.attestationKey).update(q.qeAuthData).digest();
  t.deepEqual(q.qeReport.subarray(0x140, 0x160), binding);
  t.deepEqual(q.qeReport.subarray(0x160, 0x180), Buffer.alloc(32));
  // 4. PCK chain up to the test root
  t.true(pck!.verify(platform!.publicKey));
  t.true(platform!.verify(root!.publicKey));
  t.true(root!.verify(root!.publicKey));
  t.is(root!.fingerprint256, new X509Certificate(emu.keys.tdxRootPem).fingerprint256);
  t.is(q.pckChainPem, emu.keys.pckChainPem);
  t.regex(pck!.subject, /CN=Intel SGX PCK Certificate/);
  // Negative control: a changed body byte breaks the quote signature.
  const tampered = Buffer.from(raw);
  tampered[0x238] = (tampered[0x238] ?? 0) ^ 1;
  t.false(verifyP256(tampered.subarray(0, 0x278), q.signature, ak));
});

test('configfs-tsm faults surface as errno of the outblob read', async (t) => {
  const emu = await mountEmulators();
  t.teardown(() => emu.unmount());
  const entry = join(emu.tsmTdxDir, `fault-${process.pid}`);
  await mkdir(entry);
  t.teardown(() => rmdir(entry).catch(() => undefined));
  for (const [fault, code] of [
    ['firmware', 'EINVAL'],
    ['busy', 'EBUSY'],
    ['eio', 'EIO'],
  ] as const) {
    await emu.setFault('tsm', fault);
    await writeFile(join(entry, 'inblob'), randomBytes(64));
    await t.throwsAsync(() => readFile(join(entry, 'outblob')), { code }, fault);
  }
  await emu.setFault('tsm', 'none');
  t.is(parseQuoteV4(await readFile(join(entry, 'outblob'))).version, 4);
});
