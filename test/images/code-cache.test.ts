/**
 * The initializer's code-cached bundle (images/code-cache/): the bundler's training run against a
 * development Coordinator leaves a V8 code cache that the same Node binary accepts; the bundled program
 * does its whole pod path from it, and equally without the cache or with one V8 rejects. A failed
 * training leaves no cache behind.
 */
import { BUNDLE_LICENCES_FILE } from '../../images/licences.js';
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { CODE_CACHE_BUNDLE, CODE_CACHE_FILE, bundlePrograms } from '../../images/bundler.js';
import { trainCodeCache } from '../../images/code-cache/train.js';
import { programByName } from '../../lib/programs.js';
import { InsecureValidator } from '../../lib/attestation/insecure.js';
import { deriveWorkloadSecret } from '../../lib/coordinator/workload-secret.js';
import { assertPodFiles, newPod, startDevCoordinator } from '../initializer/helpers/e2e.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function tmp(t: import('ava').ExecutionContext, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `code-cache-${name}-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** One bundle for the whole file (training included); tests copy it when they change it. */
let bundled: Promise<string> | undefined;
function initializerBundle(): Promise<string> {
  bundled ??= (async () => {
    const out = mkdtempSync(join(tmpdir(), `code-cache-bundle-${process.pid}-`));
    process.once('exit', () => {
      rmSync(out, { recursive: true, force: true });
    });
    await bundlePrograms({ root: ROOT, outDir: out, programs: [programByName('initializer')!] });
    return join(out, 'initializer');
  })();
  return bundled;
}

/** Runs `node <dir>/main.cjs` (no tsx, a clean environment) to its exit. */
function runBundle(dir: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(dir, 'main.cjs')], {
      env: { PATH: process.env['PATH'] ?? '', CONTRAST_LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stderr });
    });
  });
}

/** The pod path from the bundle against a fresh Coordinator; returns the start-up log line's codeCache. */
async function podRun(t: import('ava').ExecutionContext, dir: string, label: string): Promise<unknown> {
  const host = createHash('sha256').update(`code-cache ${label}`).digest();
  const coordinator = await startDevCoordinator(t, {
    policies: { [host.toString('hex')]: { sans: [label], workloadSecretID: label } },
    validators: [new InsecureValidator()],
  });
  const pod = await newPod(t, `cc-${label}`);
  const r = await runBundle(dir, {
    ...pod.env,
    COORDINATOR_HOST: coordinator.target,
    CONTRAST_ATTESTATION: 'insecure',
    CONTRAST_ALLOW_INSECURE_ATTESTATION: 'true',
    CONTRAST_INSECURE_HOST_DATA: host.toString('hex'),
    CONTRAST_LOG_LEVEL: 'info',
  });
  t.is(r.code, 0, r.stderr);
  const { seed, salt } = await coordinator.secrets();
  await assertPodFiles(t, pod, deriveWorkloadSecret(seed, salt, label));
  const started = r.stderr.split('\n').filter((l) => l.includes('"msg":"Initializer started"'));
  t.is(started.length, 1, r.stderr);
  return (JSON.parse(started[0]!) as { codeCache?: unknown }).codeCache;
}

test('the trained code cache is accepted, and the bundled initializer does its whole pod path', async (t) => {
  const dir = await initializerBundle();
  t.deepEqual(
    readdirSync(dir).sort(),
    ['contrast_native.node', BUNDLE_LICENCES_FILE, 'main.cjs', CODE_CACHE_FILE, CODE_CACHE_BUNDLE].sort(),
  );
  t.is(await podRun(t, dir, 'accepted'), 'accepted');
});

test('without its cache, or with one V8 rejects, the bundle still runs (compiled from source)', async (t) => {
  const dir = join(tmp(t, 'variants'), 'initializer');
  cpSync(await initializerBundle(), dir, { recursive: true });
  rmSync(join(dir, CODE_CACHE_FILE));
  t.is(await podRun(t, dir, 'absent'), 'absent');
  // A damaged cache (V8 itself would crash on it) fails the loader's digest check.
  const original = readFileSync(join(await initializerBundle(), CODE_CACHE_FILE));
  t.is(original.subarray(0, 4).toString('latin1'), 'CCC1');
  const corrupt = Buffer.from(original);
  corrupt.fill(0x5a, 64, 4096);
  writeFileSync(join(dir, CODE_CACHE_FILE), corrupt);
  t.is(await podRun(t, dir, 'damaged'), 'rejected');
  // An intact cache of other code: V8 rejects it (source mismatch).
  const other = new Script('(function () { return 42; })', { filename: 'other.js' });
  other.runInThisContext();
  const payload = other.createCachedData();
  writeFileSync(
    join(dir, CODE_CACHE_FILE),
    Buffer.concat([Buffer.from('CCC1', 'latin1'), createHash('sha256').update(payload).digest(), payload]),
  );
  t.is(await podRun(t, dir, 'foreign'), 'rejected');
});

test('a failed training run is an error naming the run, and leaves no cache', async (t) => {
  const dir = tmp(t, 'failing');
  writeFileSync(join(dir, 'main.cjs'), "process.stderr.write('cannot reach the Coordinator\\n'); process.exit(3);\n");
  const cacheFile = join(dir, CODE_CACHE_FILE);
  const err = await t.throwsAsync(trainCodeCache('initializer', { dir, cacheFile }));
  t.is((err as { code?: string }).code, 'ERR_CODE_CACHE_TRAINING');
  t.regex(err.message, /exit 3: cannot reach the Coordinator/);
  t.false(existsSync(cacheFile));
  t.deepEqual(readdirSync(dir), ['main.cjs'], 'nothing else written beside the bundle');
});

/** A stand-in program for the trainer: writes `cache(run)` as its cache and the done file. */
function fakeProgram(t: import('ava').ExecutionContext, body: string): string {
  const dir = tmp(t, 'fake');
  writeFileSync(
    join(dir, 'main.cjs'),
    [
      "const fs = require('node:fs'); const path = require('node:path');",
      "const counter = path.join(__dirname, 'runs'); const run = fs.existsSync(counter) ? Number(fs.readFileSync(counter, 'utf8')) : 0;",
      'fs.writeFileSync(counter, String(run + 1));',
      body,
      "fs.mkdirSync(path.dirname(process.env.CONTRAST_DONE_FILE), { recursive: true }); fs.writeFileSync(process.env.CONTRAST_DONE_FILE, '');",
    ].join('\n'),
  );
  return dir;
}
const runsOf = (dir: string): number => Number(readFileSync(join(dir, 'runs'), 'utf8'));

test('the training repeats until two runs agree, and a run that had to retry does not count', async (t) => {
  // First pass: run 0 retried (its WARN line), so run 1 is the seed. Counted: run 2 wrote "B", run 3
  // "A", run 4 "A" again: "A" it is, after 5 runs.
  const dir = fakeProgram(
    t,
    [
      "if (run === 0) process.stderr.write(JSON.stringify({ level: 'WARN', msg: 'Requesting cert' }) + '\\n');",
      "fs.writeFileSync(process.env.CONTRAST_CODE_CACHE_OUT, run === 2 ? 'B' : 'A');",
    ].join('\n'),
  );
  const cacheFile = join(dir, CODE_CACHE_FILE);
  t.is(await trainCodeCache('initializer', { dir, cacheFile }), 1);
  t.is(readFileSync(cacheFile, 'utf8'), 'A');
  t.is(runsOf(dir), 5);
});

test("the counted runs start from the first plain run's cache", async (t) => {
  // Each run writes the cache it started from (CONTRAST_CODE_CACHE_IN) after its own run number.
  const dir = fakeProgram(
    t,
    [
      "if (run === 0) process.stderr.write(JSON.stringify({ level: 'WARN', msg: 'Requesting cert' }) + '\\n');",
      'const seed = process.env.CONTRAST_CODE_CACHE_IN;',
      "fs.writeFileSync(process.env.CONTRAST_CODE_CACHE_OUT, seed === undefined ? 'first ' + run : 'from ' + fs.readFileSync(seed, 'utf8'));",
    ].join('\n'),
  );
  const cacheFile = join(dir, CODE_CACHE_FILE);
  t.is(await trainCodeCache('initializer', { dir, cacheFile }), 'from first 1'.length);
  t.is(readFileSync(cacheFile, 'utf8'), 'from first 1', 'run 0 retried: run 1 is the seed of runs 2 and 3');
  t.is(runsOf(dir), 4);
});

test('training runs that never agree are an error, not an unreproducible cache', async (t) => {
  const dir = fakeProgram(t, "fs.writeFileSync(process.env.CONTRAST_CODE_CACHE_OUT, 'run ' + run);");
  const cacheFile = join(dir, CODE_CACHE_FILE);
  const err = await t.throwsAsync(trainCodeCache('initializer', { dir, cacheFile }));
  t.is((err as { code?: string }).code, 'ERR_CODE_CACHE_TRAINING');
  t.regex(
    err.message,
    /no two equal code caches \(4 different, 0 off the start-up path\); the bundle would not be reproducible/,
  );
  t.false(existsSync(cacheFile));
});

test('a program without a training run cannot be code-cached', async (t) => {
  const err = await t.throwsAsync(
    trainCodeCache('meshproxy', { dir: tmp(t, 'none'), cacheFile: join(tmpdir(), 'never') }),
  );
  t.is((err as { code?: string }).code, 'ERR_CODE_CACHE_TRAINING');
  t.regex(err.message, /meshproxy: no code-cache training run/);
});
