/**
 * NewMeshCert with real TEE documents: SEV-SNP and TDX issuers reading the FUSE-emulated configfs-tsm
 * (signed with the emulators' test roots), validated by the development Coordinator whose manifest
 * names those roots as trust anchors. Insecure documents are refused unless the manifest allows them.
 */
import 'reflect-metadata';
import test from 'ava';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountEmulators, type Emulators } from '../emulators/harness.js';
import { ATTESTATION_DEFAULTS, type AttestationConfig } from '../../lib/attestation/config.js';
import { InsecureIssuer } from '../../lib/attestation/insecure.js';
import { nativeTeeAccess } from '../../lib/attestation/native-tee.js';
import { createIssuer } from '../../lib/attestation/platform.js';
import { createValidators } from '../../lib/attestation/validators.js';
import { silentLogger } from '../../lib/log.js';
import { MeshApiError, newMeshCert } from '../../lib/meshapi/client.js';
import { pemBlocks } from '../../lib/x509/pem.js';
import { derOctets } from '../../lib/coordinator/snp-claims.js';
import { X509Certificate as PeculiarCert } from '@peculiar/x509';
import { startCoordinator } from '../../lib/coordinator/coordinator.js';
import { loadManifest } from '../../lib/coordinator/manifest.js';
import { captureLogs } from '../atls/helpers/harness.js';

let shared: Emulators | undefined;
test.before(async () => {
  shared = await mountEmulators();
});
test.after.always(async () => {
  await shared?.unmount();
});

function emu(): Emulators {
  if (shared === undefined) throw new Error('emulators not mounted');
  return shared;
}

function attestationConfig(e: Emulators, tsmReportDir: string): AttestationConfig {
  return {
    mode: 'auto',
    snpDevice: `${e.mountpoint}/absent-sev-guest`,
    tdxDevice: `${e.mountpoint}/absent-tdx_guest`,
    tsmReportDir,
    allowInsecure: false,
    kernelCmdlinePath: `${e.mountpoint}/absent-cmdline`,
    cpuinfoPath: `${e.mountpoint}/absent-cpuinfo`,
    kdsBaseUrl: ATTESTATION_DEFAULTS.kdsBaseUrl,
    kdsTimeoutMs: 0,
  };
}

/** A Coordinator started from a manifest file whose trust anchors are files beside it. */
async function coordinator(t: { teardown(fn: () => Promise<void>): void }, e: Emulators, allowInsecure: boolean) {
  const dir = await mkdtemp(join(tmpdir(), `dev-tee-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ark.pem'), e.keys.askPem + e.keys.arkPem);
  await writeFile(join(dir, 'tdx-root.pem'), e.keys.tdxRootPem);
  const snpHost = e.config.hostData.toString('hex');
  const tdxHost = e.config.mrConfigId.subarray(0, 32).toString('hex');
  await writeFile(
    join(dir, 'manifest.json'),
    JSON.stringify({
      policies: {
        [snpHost]: { sans: ['snp-workload'] },
        [tdxHost]: { sans: ['tdx-workload'], workloadSecretID: 'tdx' },
      },
      referenceValues: { snp: { trustedArks: ['ark.pem'] }, tdx: { trustedRoots: ['tdx-root.pem'] }, allowInsecure },
    }),
  );
  const manifest = await loadManifest(join(dir, 'manifest.json'));
  const validators = createValidators({
    ...(manifest.referenceValues.snp === undefined ? {} : { snp: manifest.referenceValues.snp }),
    ...(manifest.referenceValues.tdx === undefined ? {} : { tdx: manifest.referenceValues.tdx }),
    allowInsecure: manifest.referenceValues.allowInsecure,
  });
  const logs = captureLogs();
  const c = await startCoordinator({
    listen: '127.0.0.1:0',
    manifest,
    stateDir: join(dir, 'state'),
    validators,
    logger: logs.logger,
  });
  t.teardown(() => c.close());
  return { target: `127.0.0.1:${c.port}`, logs, snpHost, tdxHost };
}

test.serial('SEV-SNP document from the emulated configfs-tsm: accepted, mesh certificate for our key', async (t) => {
  const e = emu();
  const { target, logs, snpHost } = await coordinator(t, e, false);
  const issuer = await createIssuer(attestationConfig(e, e.tsmSnpDir), silentLogger(), {
    tee: () => Promise.resolve(nativeTeeAccess()),
  });
  t.is(issuer.kind, 'snp');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certs = await newMeshCert({ target, issuer, privateKey });
  const leaf = new X509Certificate(pemBlocks(certs.certChain, 'CERTIFICATE', 'CertChain')[0] ?? Buffer.alloc(0));
  t.true(leaf.publicKey.equals(publicKey));
  t.is(leaf.subject, 'CN=snp-workload');
  // The report's claims travel in the mesh certificate (1.3.9901.2.1.22 measurement, .23 host data).
  const parsed = new PeculiarCert(leaf.raw);
  t.deepEqual(
    Buffer.from(parsed.getExtension('1.3.9901.2.1.23')?.value ?? new ArrayBuffer(0)),
    derOctets(e.config.hostData),
  );
  t.deepEqual(
    Buffer.from(parsed.getExtension('1.3.9901.2.1.22')?.value ?? new ArrayBuffer(0)),
    derOctets(e.config.measurement),
  );
  const accepted = await logs.waitFor((l) => l['msg'] === 'Attestation accepted');
  t.is(accepted['kind'], 'snp');
  t.is(accepted['hostData'], snpHost);
});

test.serial(
  'TDX quote from the emulated configfs-tsm: accepted, policy by MRCONFIGID[0:32], secret derived',
  async (t) => {
    const e = emu();
    const { target, logs, tdxHost } = await coordinator(t, e, false);
    const issuer = await createIssuer(attestationConfig(e, e.tsmTdxDir), silentLogger());
    t.is(issuer.kind, 'tdx');
    const certs = await newMeshCert({
      target,
      issuer,
      privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    }).catch((err: unknown) => {
      throw new Error(
        `${String(err)}; Coordinator log: ${JSON.stringify(logs.lines.filter((l) => l['msg'] === 'Attestation rejected'))}`,
      );
    });
    t.is(certs.workloadSecret.length, 64);
    const accepted = await logs.waitFor((l) => l['msg'] === 'Attestation accepted');
    t.is(accepted['kind'], 'tdx');
    t.is(accepted['hostData'], tdxHost);
  },
);

test.serial('insecure documents are refused unless the manifest allows them', async (t) => {
  const e = emu();
  const strict = await coordinator(t, e, false);
  const issuer = new InsecureIssuer(e.config.hostData);
  const err = await t.throwsAsync(
    newMeshCert({
      target: strict.target,
      issuer,
      privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    }),
    { instanceOf: MeshApiError },
  );
  t.is(err.code, 'ERR_ATLS_HANDSHAKE_REJECTED');
  const line = await strict.logs.waitFor((l) => l['msg'] === 'Attestation rejected');
  t.is(line['reason'], 'ERR_ATLS_DOCUMENT_REJECTED');
  t.regex(String(line['err']), /no validator for the offered attestation document\(s\) 1\.3\.9901\.2\.3/);

  const lenient = await coordinator(t, e, true);
  const certs = await newMeshCert({
    target: lenient.target,
    issuer,
    privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  });
  t.true(certs.certChain.length > 0);
});
