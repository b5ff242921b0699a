/**
 * End-to-end plumbing: a development Coordinator on loopback (real aTLS, real gRPC) and the real
 * initializer program (initializer/main.ts) as a process, each pod with its own directories.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { startCoordinator, type RunningCoordinator } from '../../../lib/coordinator/coordinator.js';
import type { DevManifest, DevPolicy } from '../../../lib/coordinator/manifest.js';
import type { Validator } from '../../../lib/attestation/types.js';
import { silentLogger } from '../../../lib/log.js';
import { spawnFixture, type Spawned } from './spawn.js';

export const MAIN = fileURLToPath(new URL('../../../initializer/main.ts', import.meta.url));

export interface Coordinator extends RunningCoordinator {
  readonly stateDir: string;
  readonly target: string;
  /** The Coordinator's seed and salt (state/secrets.json). */
  secrets(): Promise<{ seed: Buffer; salt: Buffer }>;
}

export async function startDevCoordinator(
  t: ExecutionContext,
  opts: { policies: Record<string, DevPolicy>; validators: Validator[]; listen?: string },
): Promise<Coordinator> {
  const stateDir = await mkdtemp(join(tmpdir(), `init-e2e-coord-${process.pid}-`));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const manifest: DevManifest = {
    policies: new Map(Object.entries(opts.policies)),
    referenceValues: { allowInsecure: true },
  };
  const running = await startCoordinator({
    listen: opts.listen ?? '127.0.0.1:0',
    manifest,
    stateDir,
    validators: opts.validators,
    logger: silentLogger(),
  });
  t.teardown(() => running.close());
  return {
    ...running,
    stateDir,
    target: `127.0.0.1:${running.port}`,
    async secrets() {
      const raw = JSON.parse(await readFile(join(stateDir, 'secrets.json'), 'utf8')) as { seed: string; salt: string };
      return { seed: Buffer.from(raw.seed, 'hex'), salt: Buffer.from(raw.salt, 'hex') };
    },
  };
}

export interface Pod {
  readonly root: string;
  readonly tlsDir: string;
  readonly secretsDir: string;
  readonly doneFile: string;
  readonly env: Record<string, string>;
}

export async function newPod(t: ExecutionContext, name: string): Promise<Pod> {
  const root = await mkdtemp(join(tmpdir(), `init-e2e-${name}-${process.pid}-`));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const tlsDir = join(root, 'contrast', 'tls-config');
  const secretsDir = join(root, 'contrast', 'secrets');
  const doneFile = join(root, 'done');
  return {
    root,
    tlsDir,
    secretsDir,
    doneFile,
    env: { CONTRAST_TLS_DIR: tlsDir, CONTRAST_SECRETS_DIR: secretsDir, CONTRAST_DONE_FILE: doneFile },
  };
}

/** Runs the real initializer for `pod`; the process is killed on teardown if still running. */
export function runInitializer(t: ExecutionContext, pod: Pod, env: Record<string, string>): Spawned {
  const p = spawnFixture({ ...pod.env, CONTRAST_LOG_LEVEL: 'debug', ...env }, [], MAIN);
  t.teardown(() => {
    p.child.kill('SIGKILL');
  });
  return p;
}

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o7777;

/** Everything the issue asks of a finished pod; returns the leaf certificate. */
export async function assertPodFiles(
  t: ExecutionContext,
  pod: Pod,
  expectedSecret: Buffer | undefined,
): Promise<X509Certificate> {
  const tls = (f: string): string => join(pod.tlsDir, f);
  t.is(await mode(pod.tlsDir), 0o755);
  t.is(await mode(pod.secretsDir), 0o755);
  for (const f of ['mesh-ca.pem', 'certChain.pem', 'coordinator-root-ca.pem']) t.is(await mode(tls(f)), 0o444, f);
  t.is(await mode(tls('key.pem')), 0o400);
  t.is((await stat(pod.doneFile)).size, 0);
  const keyPem = await readFile(tls('key.pem'), 'utf8');
  t.regex(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const key = createPrivateKey(keyPem);
  t.is(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const chainPem = await readFile(tls('certChain.pem'), 'utf8');
  t.is((chainPem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length, 2, 'leaf then intermediate');
  const leaf = new X509Certificate(chainPem);
  t.true(leaf.publicKey.equals(createPublicKey(key)), 'key.pem matches the leaf of certChain.pem');
  const meshCA = new X509Certificate(await readFile(tls('mesh-ca.pem')));
  t.true(leaf.checkIssued(meshCA) && leaf.verify(meshCA.publicKey), 'the chain verifies to mesh-ca.pem');
  const root = new X509Certificate(await readFile(tls('coordinator-root-ca.pem')));
  const intermediate = new X509Certificate(chainPem.slice(chainPem.indexOf('-----END CERTIFICATE-----') + 26));
  t.true(intermediate.verify(root.publicKey), 'the intermediate is signed by the root CA');
  const seedPath = join(pod.secretsDir, 'workload-secret-seed');
  if (expectedSecret === undefined) {
    await t.throwsAsync(stat(seedPath), { code: 'ENOENT' });
  } else {
    t.is(await mode(seedPath), 0o400);
    t.is(await readFile(seedPath, 'utf8'), expectedSecret.toString('hex'));
  }
  return leaf;
}
