/**
 * `contrast-dev coordinator` as a process: serves NewMeshCert to our client, writes its PEMs, stops on
 * SIGTERM with exit 0; bad flags or manifest exit 64 and leave the state directory untouched.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InsecureIssuer } from '../../lib/attestation/insecure.js';
import { newMeshCert } from '../../lib/meshapi/client.js';
import { devCoordinatorArgs } from './coordinator-args.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HOST = '12'.repeat(32);

function contrastDev(args: string[]): {
  lines: () => string[];
  stderr: () => string;
  exited: Promise<number | null>;
  kill: () => void;
  waitForLine: (pred: (l: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>;
} {
  const child = spawn(process.execPath, ['--import=tsx', join(root, 'dev', 'main.ts'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const waiters: Array<() => void> = [];
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      for (const w of waiters.splice(0)) w();
      resolve(code);
    }),
  );
  const parsed = (): Array<Record<string, unknown>> =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    lines: () => err.split('\n'),
    stderr: () => err,
    exited,
    kill: () => child.kill('SIGTERM'),
    waitForLine: (pred) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = parsed().find(pred);
          if (hit !== undefined) resolve(hit);
          else if (child.exitCode !== null) reject(new Error(`contrast-dev exited: ${err}`));
          else waiters.push(check);
        };
        check();
      }),
  };
}

test('serves NewMeshCert, writes mesh-ca.pem and root-ca.pem, exits 0 on SIGTERM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `dev-cli-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const p = contrastDev(await devCoordinatorArgs(dir, HOST, join(dir, 'state')));
  t.teardown(() => {
    p.kill();
  });
  const listening = await p.waitForLine((l) => l['msg'] === 'Coordinator mesh API listening');
  const certs = await newMeshCert({
    target: `127.0.0.1:${String(listening['port'])}`,
    issuer: new InsecureIssuer(Buffer.from(HOST, 'hex')),
    privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  });
  t.deepEqual(certs.meshCACert, await readFile(join(dir, 'state', 'mesh-ca.pem')));
  t.deepEqual(certs.rootCACert, await readFile(join(dir, 'state', 'root-ca.pem')));
  await p.waitForLine((l) => l['msg'] === 'Attestation accepted');
  await p.waitForLine((l) => l['msg'] === 'Issued mesh certificate');
  p.kill();
  t.is(await p.exited, 0);
});

test('bad flags and a bad manifest: exit 64, one ERROR line, nothing written', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `dev-cli-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'bad.json'),
    JSON.stringify({ policies: { nothex: { sans: ['x'] } }, referenceValues: { allowInsecure: true } }),
  );
  const state = join(dir, 'state');
  for (const args of [
    ['coordinator', '--listen', 'nope', '--manifest', join(dir, 'bad.json'), '--state-dir', state],
    ['coordinator', '--listen', '127.0.0.1:0', '--manifest', join(dir, 'bad.json'), '--state-dir', state],
    ['coordinator', '--listen', '127.0.0.1:0', '--manifest', join(dir, 'missing.json'), '--state-dir', state],
    ['coordinator', '--listen', '127.0.0.1:0', '--state-dir', state],
    [
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--manifest',
      join(dir, 'bad.json'),
      '--state-dir',
      state,
      '--min-tls-version',
      '1.1',
    ],
  ]) {
    const p = contrastDev(args);
    t.is(await p.exited, 64, p.stderr());
    const errors = p.lines().filter((l) => l.includes('"level":"ERROR"'));
    t.is(errors.length, 1, p.stderr());
    t.regex(errors[0] ?? '', /ERR_CONFIG/);
  }
  t.deepEqual(await readdir(dir), ['bad.json']);
});
