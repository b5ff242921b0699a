/**
 * The real initializer against the development Coordinator over loopback: insecure attestation, the
 * emulated SEV-SNP device, TDX through the emulated configfs-tsm; mutual TLS between two pods through
 * openssl; Coordinator down at start; unknown policy; SIGTERM while waiting.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { InsecureValidator } from '../../lib/attestation/insecure.js';
import { createValidators } from '../../lib/attestation/validators.js';
import { deriveWorkloadSecret } from '../../lib/coordinator/workload-secret.js';
import { mountEmulators, type Emulators } from '../emulators/harness.js';
import { assertPodFiles, newPod, runInitializer, startDevCoordinator } from './helpers/e2e.js';
import { parseLogLines } from './helpers/logs.js';
import { opensslMutualTls } from './helpers/openssl-mtls.js';

const hostData = (label: string): Buffer => createHash('sha256').update(label).digest();
const insecureEnv = (host: Buffer, target: string): Record<string, string> => ({
  COORDINATOR_HOST: target,
  CONTRAST_ATTESTATION: 'insecure',
  CONTRAST_ALLOW_INSECURE_ATTESTATION: 'true',
  CONTRAST_INSECURE_HOST_DATA: host.toString('hex'),
  CONTRAST_RETRY_INTERVAL: '200ms',
});

let emu: Emulators | undefined;
test.before(async () => {
  emu = await mountEmulators({
    hostData: hostData('snp pod'),
    mrConfigId: Buffer.concat([hostData('tdx pod'), Buffer.alloc(16)]),
  });
});
test.after.always(async () => {
  await emu?.unmount();
});

test('insecure attestation: files, modes, key, chain, seed; two pods talk mutual TLS through openssl', async (t) => {
  const web = hostData('web');
  const db = hostData('db');
  const coordinator = await startDevCoordinator(t, {
    policies: {
      [web.toString('hex')]: { sans: ['web'], workloadSecretID: 'apps/v1/Deployment/default/web' },
      [db.toString('hex')]: { sans: ['db'] },
    },
    validators: [new InsecureValidator()],
  });
  const podWeb = await newPod(t, 'web');
  const podDb = await newPod(t, 'db');
  const a = runInitializer(t, podWeb, insecureEnv(web, coordinator.target));
  const b = runInitializer(t, podDb, insecureEnv(db, coordinator.target));
  t.is((await a.exited).code, 0, a.stderr());
  t.is((await b.exited).code, 0, b.stderr());
  const { seed, salt } = await coordinator.secrets();
  const leafWeb = await assertPodFiles(t, podWeb, deriveWorkloadSecret(seed, salt, 'apps/v1/Deployment/default/web'));
  await assertPodFiles(t, podDb, undefined);
  t.regex(leafWeb.subjectAltName ?? '', /DNS:web/);
  const msgs = parseLogLines(a.stderr())
    .filter((l) => l['level'] !== 'DEBUG')
    .map((l) => l['msg']);
  t.true(msgs.includes('Successfully requested cert from Coordinator'));
  t.is(msgs.at(-1), 'Initializer done');

  const mtls = await opensslMutualTls(podWeb.tlsDir, podDb.tlsDir, 'hello web, this is db', 'web');
  t.is(mtls.clientCode, 0, mtls.clientOut);
  t.regex(mtls.clientOut, /Verify return code: 0 \(ok\)/);
  t.regex(mtls.serverOut, /hello web, this is db/);
});

test('SEV-SNP through the emulated /dev/sev-guest', async (t) => {
  const e = emu!;
  const coordinator = await startDevCoordinator(t, {
    policies: { [e.config.hostData.toString('hex')]: { sans: ['snp-pod'], workloadSecretID: 'snp' } },
    validators: createValidators({ snp: { trustedArkPems: [e.keys.askPem + e.keys.arkPem] } }),
  });
  const pod = await newPod(t, 'snp');
  const p = runInitializer(t, pod, {
    COORDINATOR_HOST: coordinator.target,
    CONTRAST_ATTESTATION: 'snp',
    CONTRAST_SNP_DEVICE: e.snpDevice,
    CONTRAST_TSM_REPORT_DIR: `${pod.root}/no-configfs`,
    CONTRAST_KDS_TIMEOUT: '0',
  });
  t.is((await p.exited).code, 0, p.stderr());
  const { seed, salt } = await coordinator.secrets();
  await assertPodFiles(t, pod, deriveWorkloadSecret(seed, salt, 'snp'));
  t.is(parseLogLines(p.stderr()).find((l) => l['msg'] === 'Initializer started')?.['attestation'], 'snp');
});

test('TDX through the emulated configfs-tsm', async (t) => {
  const e = emu!;
  const coordinator = await startDevCoordinator(t, {
    policies: { [e.config.mrConfigId.subarray(0, 32).toString('hex')]: { sans: ['tdx-pod'], workloadSecretID: 'tdx' } },
    validators: createValidators({ tdx: { trustedRootPems: [e.keys.tdxRootPem] } }),
  });
  const pod = await newPod(t, 'tdx');
  const p = runInitializer(t, pod, {
    COORDINATOR_HOST: coordinator.target,
    CONTRAST_ATTESTATION: 'tdx',
    CONTRAST_TSM_REPORT_DIR: e.tsmTdxDir,
  });
  t.is((await p.exited).code, 0, p.stderr());
  const { seed, salt } = await coordinator.secrets();
  await assertPodFiles(t, pod, deriveWorkloadSecret(seed, salt, 'tdx'));
});

test('Coordinator down at start, up later: success within one retry after it is up', async (t) => {
  const host = hostData('late');
  const port = await freePort();
  const pod = await newPod(t, 'late');
  const p = runInitializer(t, pod, { ...insecureEnv(host, `127.0.0.1:${port}`), CONTRAST_RETRY_INTERVAL: '500ms' });
  await p.waitForMsg('Requesting cert');
  const first = parseLogLines(p.stderr()).find((l) => l['level'] === 'WARN' && l['msg'] === 'Requesting cert');
  t.is(first?.['code'], 'ERR_MESHAPI_UNAVAILABLE');
  t.regex(String(first?.['err']), new RegExp(`127\\.0\\.0\\.1:${port}`));
  t.deepEqual(otherWarns(p.stderr()), [], 'one WARN line per failed attempt');
  await startDevCoordinator(t, {
    policies: { [host.toString('hex')]: { sans: ['late'] } },
    validators: [new InsecureValidator()],
    listen: `127.0.0.1:${port}`,
  });
  const warnsBeforeUp = countWarns(p.stderr());
  t.is((await p.exited).code, 0, p.stderr());
  t.true(
    countWarns(p.stderr()) <= warnsBeforeUp + 1,
    'at most the attempt in flight fails after the Coordinator is up',
  );
  await assertPodFiles(t, pod, undefined);
});

test('unknown policy: WARN lines naming the host data, retrying; SIGTERM then ends it promptly', async (t) => {
  const host = hostData('unknown');
  const coordinator = await startDevCoordinator(t, {
    policies: { [hostData('other').toString('hex')]: { sans: ['x'] } },
    validators: [new InsecureValidator()],
  });
  const pod = await newPod(t, 'unknown');
  const p = runInitializer(t, pod, { ...insecureEnv(host, coordinator.target), CONTRAST_RETRY_INTERVAL: '100ms' });
  const state = { exited: false };
  void p.exited.then(() => (state.exited = true));
  while (countWarns(p.stderr()) < 2 && !state.exited) await new Promise((r) => setTimeout(r, 50));
  t.false(state.exited, p.stderr());
  const warns = parseLogLines(p.stderr()).filter((l) => l['level'] === 'WARN' && l['msg'] === 'Requesting cert');
  for (const w of warns) {
    t.is(w['code'], 'ERR_MESHAPI_PERMISSION_DENIED');
    t.true(String(w['err']).includes(host.toString('hex')), String(w['err']));
  }
  t.deepEqual(otherWarns(p.stderr()), [], 'one WARN line per failed attempt');
  p.child.kill('SIGTERM');
  const { code } = await p.exited;
  t.is(code, 1);
  const errors = parseLogLines(p.stderr()).filter((l) => l['level'] === 'ERROR');
  t.is(errors.length, 1);
  t.is(errors[0]!['msg'], 'waiting for retry to request cert: received SIGTERM');
});

test('attestation the Coordinator does not accept: WARN with the handshake rejection, retrying', async (t) => {
  const e = emu!;
  // The Coordinator accepts SEV-SNP only; the pod offers an insecure document.
  const coordinator = await startDevCoordinator(t, {
    policies: { [hostData('rejected').toString('hex')]: { sans: ['x'] } },
    validators: createValidators({ snp: { trustedArkPems: [e.keys.askPem + e.keys.arkPem] } }),
  });
  const pod = await newPod(t, 'rejected');
  const p = runInitializer(t, pod, insecureEnv(hostData('rejected'), coordinator.target));
  // Wait for a few attempts: under load the rejection can reach the client as a reset (write EPIPE,
  // ERR_MESHAPI_UNAVAILABLE) instead of the alert, so one attempt may not show the reason.
  const state = { exited: false };
  void p.exited.then(() => (state.exited = true));
  const warns = (): Record<string, unknown>[] =>
    parseLogLines(p.stderr()).filter((l) => l['level'] === 'WARN' && l['msg'] === 'Requesting cert');
  while (!state.exited && !warns().some((w) => w['code'] === 'ERR_ATLS_HANDSHAKE_REJECTED') && warns().length < 8)
    await new Promise((r) => setTimeout(r, 50));
  t.false(state.exited, p.stderr());
  const codes = warns().map((w) => w['code']);
  t.true(codes.includes('ERR_ATLS_HANDSHAKE_REJECTED'), JSON.stringify(codes));
  t.true(
    codes.every((c) => c === 'ERR_ATLS_HANDSHAKE_REJECTED' || c === 'ERR_MESHAPI_UNAVAILABLE'),
    JSON.stringify(codes),
  );
  t.deepEqual(otherWarns(p.stderr()), [], 'one WARN line per failed attempt');
  p.child.kill('SIGTERM');
  t.is((await p.exited).code, 1);
});

/** WARN lines other than the per-attempt one and the one-time insecure-platform notice. */
function otherWarns(stderr: string): Record<string, unknown>[] {
  return parseLogLines(stderr).filter(
    (l) =>
      l['level'] === 'WARN' &&
      l['msg'] !== 'Requesting cert' &&
      !String(l['msg']).startsWith('attestation platform selected: INSECURE'),
  );
}

function countWarns(stderr: string): number {
  return parseLogLines(stderr).filter((l) => l['level'] === 'WARN' && l['msg'] === 'Requesting cert').length;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => {
        resolve(port);
      });
    });
  });
}
