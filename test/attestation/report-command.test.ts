import test from 'ava';
import { Command } from 'commander';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerReportCommand } from '../../initializer/report-command.js';
import { silentLogger } from '../../lib/log.js';
import { parseSnpReport } from '../../lib/attestation/snp-report.js';
import { encodeSnpDocument } from '../../lib/attestation/snp-document.js';
import { parseTdxQuote } from '../../lib/attestation/tdx-quote.js';
import { encodeTdxDocument } from '../../lib/attestation/tdx-document.js';
import { decodeInsecureDocument } from '../../lib/attestation/insecure.js';
import { AttestationError, ATTESTATION_ERROR_CODES as C } from '../../lib/attestation/errors.js';
import { ConfigError } from '../../lib/errors.js';
import { FIXTURES, flipBit, milanReport, milanVcek, tdxQuote } from './helpers.js';

interface Run {
  out: string[];
  run: (...args: string[]) => Promise<void>;
}

function cli(env: Record<string, string> = {}): Run {
  const out: string[] = [];
  const program = new Command('contrast-initializer').exitOverride();
  registerReportCommand(program, {
    stdout: (s) => out.push(s),
    env,
    logger: silentLogger,
    now: () => new Date('2026-01-01T00:00:00Z'),
  });
  return {
    out,
    run: async (...args) => {
      await program.parseAsync(args, { from: 'user' });
    },
  };
}

function tmp(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), `att-cmd-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const SNP = `${FIXTURES}snp/milan-report.bin`;
const VCEK = `${FIXTURES}snp/milan-vcek.der`;
const ASKARK = `${FIXTURES}snp/ask-ark-milan.pem`;

test('inspect a raw SNP report prints one JSON object with the required fields', async (t) => {
  const c = cli();
  await c.run('report', 'inspect', SNP);
  t.is(c.out.length, 1);
  const j = JSON.parse(c.out[0]!) as Record<string, unknown>;
  t.is(j['type'], 'snp');
  t.is(j['version'], 2);
  t.is(j['vmpl'], 0);
  t.is(j['reportData'], '0102030405' + '00'.repeat(59));
  t.is(
    j['measurement'],
    'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01',
  );
  t.is(j['hostData'], '00'.repeat(32));
  t.regex(j['chipId'] as string, /^3ac3fe21/);
  t.like(j['reportedTcb'], { bootloader: 2, tee: 0, snp: 5, microcode: 68, raw: '0200000000000544' });
  t.false('signature' in j);
});

test('inspect with --vcek and --ask-ark verifies; a flipped bit does not', async (t) => {
  const c = cli();
  await c.run('report', 'inspect', SNP, '--vcek', VCEK, '--ask-ark', ASKARK);
  t.deepEqual((JSON.parse(c.out[0]!) as Record<string, unknown>)['signature'], {
    verified: true,
    chain: ['SEV-VCEK', 'SEV-Milan', 'ARK-Milan'],
  });
  const dir = tmp(t);
  writeFileSync(join(dir, 'bad.bin'), flipBit(milanReport(), 0x90, 0));
  await c.run('report', 'inspect', join(dir, 'bad.bin'), '--vcek', VCEK, '--ask-ark', ASKARK);
  const sig = (JSON.parse(c.out[1]!) as { signature: { verified: boolean; reason: string } }).signature;
  t.false(sig.verified);
  t.regex(sig.reason, /signature/);
});

test('inspect accepts a PEM VCEK and base64 input', async (t) => {
  const dir = tmp(t);
  const pem = `-----BEGIN CERTIFICATE-----\n${milanVcek().toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
  writeFileSync(join(dir, 'vcek.pem'), pem);
  writeFileSync(join(dir, 'report.b64'), milanReport().toString('base64') + '\n');
  const c = cli();
  await c.run('report', 'inspect', join(dir, 'report.b64'), '--vcek', join(dir, 'vcek.pem'), '--ask-ark', ASKARK);
  t.true((JSON.parse(c.out[0]!) as { signature: { verified: boolean } }).signature.verified);
});

test('inspect a raw TDX quote verifies with its embedded chain', async (t) => {
  const c = cli();
  await c.run('report', 'inspect', `${FIXTURES}tdx/spr-e4-quote-v4.dat`);
  const j = JSON.parse(c.out[0]!) as Record<string, unknown>;
  t.is(j['type'], 'tdx');
  t.is(j['version'], 4);
  t.is(j['teeType'], 0x81);
  t.regex(j['mrTd'] as string, /^6363b804/);
  t.is(j['mrConfigId'], '00'.repeat(48));
  t.is((j['rtmrs'] as string[]).length, 4);
  t.regex(j['reportData'] as string, /^6c62dec1/);
  t.like(j['signature'], { verified: true });
});

test('inspect documents (SNP and TDX protobuf, binary and base64; insecure JSON)', async (t) => {
  const dir = tmp(t);
  writeFileSync(
    join(dir, 'snp.pb'),
    encodeSnpDocument({
      report: parseSnpReport(milanReport()),
      product: 'Milan',
      machineStepping: 0,
      chain: { vcek: milanVcek() },
    }),
  );
  writeFileSync(join(dir, 'tdx.b64'), encodeTdxDocument(parseTdxQuote(tdxQuote())).toString('base64'));
  writeFileSync(
    join(dir, 'insecure.json'),
    JSON.stringify({
      reportData: Buffer.alloc(64, 7).toString('base64'),
      hostData: Buffer.alloc(32, 9).toString('base64'),
    }),
  );
  const c = cli();
  await c.run('report', 'inspect', join(dir, 'snp.pb'), '--ask-ark', ASKARK);
  await c.run('report', 'inspect', join(dir, 'tdx.b64'));
  await c.run('report', 'inspect', join(dir, 'insecure.json'));
  const [snp, tdx, insecure] = c.out.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.like(snp, { type: 'snp', source: 'document', product: 'Milan', signature: { verified: true } });
  t.like(tdx, { type: 'tdx', source: 'document', signature: { verified: true } });
  t.deepEqual(insecure, { type: 'insecure', reportData: '07'.repeat(64), hostData: '09'.repeat(32) });
});

const badInputs: Array<[string, Buffer, RegExp]> = [
  ['short SNP-looking report', Buffer.alloc(100, 0), /100 bytes/],
  [
    'SNP report of version 9',
    (() => {
      const b = Buffer.from(milanReport());
      b.writeUInt32LE(9, 0);
      return b;
    })(),
    /VERSION at offset 0x0 is 9/,
  ],
  ['truncated TDX quote', tdxQuote().subarray(0, 700), /offset 0x278|offset 0x27c/],
];
for (const [name, bytes, message] of badInputs) {
  test(`inspect rejects a ${name} with a message naming size, version or offset`, async (t) => {
    const dir = tmp(t);
    writeFileSync(join(dir, 'in.bin'), bytes);
    const c = cli();
    const err = await t.throwsAsync(c.run('report', 'inspect', join(dir, 'in.bin')), { instanceOf: AttestationError });
    t.regex(err.message, message);
    t.is(c.out.length, 0);
  });
}

test('inspect of a missing file names it', async (t) => {
  const err = await t.throwsAsync(cli().run('report', 'inspect', '/nonexistent/x.bin'), {
    instanceOf: AttestationError,
  });
  t.is(err.code, C.INVALID_ARGUMENT);
  t.regex(err.message, /\/nonexistent\/x\.bin.*ENOENT/);
});

test('report issues an insecure document over zero report data when allowed', async (t) => {
  const dir = tmp(t);
  const c = cli({
    CONTRAST_ATTESTATION: 'insecure',
    CONTRAST_ALLOW_INSECURE_ATTESTATION: '1',
    CONTRAST_INSECURE_HOST_DATA: 'ab'.repeat(32),
    CONTRAST_TSM_REPORT_DIR: join(dir, 'none'),
    CONTRAST_SNP_DEVICE: join(dir, 'sev'),
    CONTRAST_TDX_DEVICE: join(dir, 'tdx'),
  });
  await c.run('report');
  t.is(c.out.length, 1);
  t.regex(c.out[0]!, /^[A-Za-z0-9+/]+=*\n$/);
  const doc = decodeInsecureDocument(Buffer.from(c.out[0]!, 'base64'));
  t.true(doc.reportData.equals(Buffer.alloc(64)));
  t.is(doc.hostData.toString('hex'), 'ab'.repeat(32));
});

test('report with a bad configuration fails with ConfigError listing every problem', async (t) => {
  const err = await t.throwsAsync(
    cli({ CONTRAST_ATTESTATION: 'sgx', CONTRAST_INSECURE_HOST_DATA: 'xyz' }).run('report'),
    { instanceOf: ConfigError },
  );
  t.is(err.problems.length, 2);
});
