import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { EnvReader } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';
import { readAttestationConfig, type AttestationConfig } from '../../lib/attestation/config.js';
import { createIssuer, detectPlatform } from '../../lib/attestation/platform.js';
import { reportDataFor } from '../../lib/attestation/reportdata.js';
import { ATTESTATION_ERROR_CODES as C } from '../../lib/attestation/errors.js';
import { silentLogger } from '../../lib/log.js';
import { rejectsCode, throwsCode } from './helpers.js';

const read = (env: Record<string, string>): AttestationConfig => {
  const r = new EnvReader(env);
  return r.finish(readAttestationConfig(r));
};

test('defaults are the upstream kernel paths', (t) => {
  t.like(read({}), {
    mode: 'auto',
    snpDevice: '/dev/sev-guest',
    tdxDevice: '/dev/tdx_guest',
    tsmReportDir: '/sys/kernel/config/tsm/report',
    allowInsecure: false,
    kernelCmdlinePath: '/proc/cmdline',
    kdsBaseUrl: 'https://kdsintf.amd.com',
    kdsTimeoutMs: 5000,
  });
  t.is(read({}).insecureHostData, undefined);
});

test('every variable is read', (t) => {
  const c = read({
    CONTRAST_ATTESTATION: 'TDX',
    CONTRAST_SNP_DEVICE: '/x/sev',
    CONTRAST_TDX_DEVICE: '/x/tdx',
    CONTRAST_TSM_REPORT_DIR: '/x/tsm',
    CONTRAST_ALLOW_INSECURE_ATTESTATION: 'true',
    CONTRAST_INSECURE_HOST_DATA: 'AB'.repeat(32),
    CONTRAST_KDS_URL: 'http://127.0.0.1:1/',
    CONTRAST_KDS_TIMEOUT: '0',
  });
  t.like(c, {
    mode: 'tdx',
    snpDevice: '/x/sev',
    tdxDevice: '/x/tdx',
    tsmReportDir: '/x/tsm',
    allowInsecure: true,
    kdsBaseUrl: 'http://127.0.0.1:1',
    kdsTimeoutMs: 0,
  });
  t.is(c.insecureHostData?.toString('hex'), 'ab'.repeat(32));
  t.true(Object.isFrozen(c));
});

test('all problems are reported at once', (t) => {
  const err = t.throws(
    () =>
      read({
        CONTRAST_ATTESTATION: 'sgx',
        CONTRAST_SNP_DEVICE: 'dev/sev',
        CONTRAST_ALLOW_INSECURE_ATTESTATION: 'maybe',
        CONTRAST_INSECURE_HOST_DATA: 'abc',
        CONTRAST_KDS_TIMEOUT: 'soon',
      }),
    { instanceOf: ConfigError },
  );
  t.is(err.problems.length, 5);
  t.true(err.problems.some((p) => p.startsWith('CONTRAST_INSECURE_HOST_DATA=abc: expected 64 hex characters')));
  t.true(err.problems.some((p) => p.startsWith('CONTRAST_ATTESTATION=sgx: expected one of auto, snp, tdx, insecure')));
});

test('report data is SHA-512(SPKI || nonce)', (t) => {
  const spki = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200' + '04'.repeat(65), 'hex');
  const nonce = Buffer.alloc(32, 9);
  t.deepEqual(
    reportDataFor(spki, nonce),
    createHash('sha512')
      .update(Buffer.concat([spki, nonce]))
      .digest(),
  );
  t.is(reportDataFor(spki, nonce).length, 64);
  throwsCode(t, () => reportDataFor(Buffer.alloc(0), nonce), C.INVALID_ARGUMENT);
});

function noTee(t: { teardown: (f: () => void) => void }, extra: Partial<AttestationConfig> = {}): AttestationConfig {
  const dir = mkdtempSync(join(tmpdir(), `att-cfg-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    ...read({
      CONTRAST_SNP_DEVICE: join(dir, 'sev'),
      CONTRAST_TDX_DEVICE: join(dir, 'tdx'),
      CONTRAST_TSM_REPORT_DIR: join(dir, 'tsm'),
    }),
    kernelCmdlinePath: join(dir, 'cmdline'),
    ...extra,
  };
}

test('without a TEE, auto fails unless insecure is allowed; never chosen silently', async (t) => {
  const c = noTee(t);
  const err = await rejectsCode(t, detectPlatform(c), C.NO_PLATFORM);
  t.regex(err.message, /insecure attestation is not allowed/);
  t.like(await detectPlatform({ ...c, allowInsecure: true }), { kind: 'insecure' });
});

test('the kernel command-line flag allows insecure attestation', async (t) => {
  const c = noTee(t);
  writeFileSync(c.kernelCmdlinePath, 'console=ttyS0 contrast.allow_insecure_attestation=1 quiet\n');
  t.like(await detectPlatform(c), { kind: 'insecure' });
  writeFileSync(c.kernelCmdlinePath, 'contrast.allow_insecure_attestation=0\n');
  await rejectsCode(t, detectPlatform(c), C.NO_PLATFORM);
});

test('CONTRAST_ATTESTATION=insecure needs an explicit allowance', async (t) => {
  await rejectsCode(t, detectPlatform(noTee(t, { mode: 'insecure' })), C.INSECURE_NOT_ALLOWED);
  const issuer = await createIssuer(
    noTee(t, { mode: 'insecure', allowInsecure: true, insecureHostData: Buffer.alloc(32, 5) }),
    silentLogger(),
  );
  t.is(issuer.oid, '1.3.9901.2.3');
  const doc = JSON.parse(Buffer.from(await issuer.issue(Buffer.alloc(64, 1))).toString()) as { hostData: string };
  t.is(doc.hostData, Buffer.alloc(32, 5).toString('base64'));
});
