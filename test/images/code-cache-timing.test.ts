/**
 * The code-cache loader's training mode (images/code-cache/loader.cts, hold-timers.cts) with stand-in
 * programs: what a training run's cache holds must not depend on the machine's speed. A timer that
 * comes due before the checkpoint on a slow machine and not on a fast one leaves the cache alike,
 * because its callback is held until the cache is written (and then runs, unless it was cleared);
 * two runs that first call functions in different orders give the same cache when they start from
 * the same seed; a training run reads only the seed it is given, never a program.cache beside it.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCodeCacheLoader, CODE_CACHE_BUNDLE, CODE_CACHE_FILE } from '../../images/bundler.js';
import { TRAINING_HASH_SEED_FLAG } from '../../images/code-cache/flags.cjs';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** A bundle directory: the real loader, and `body` as the program (in the bundler's wrapper). */
async function standIn(t: import('ava').ExecutionContext, body: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `code-cache-timing-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  await buildCodeCacheLoader(ROOT, dir);
  writeFileSync(
    join(dir, CODE_CACHE_BUNDLE),
    `(function (exports, require, module, __filename, __dirname) {\n${body}\n})`,
    'latin1',
  );
  return dir;
}

const CHECKPOINT = "globalThis[Symbol.for('contrast.codeCache.checkpoint')]();";

/** One training run of the stand-in; resolves with its cache and stdout. */
function train(dir: string, name: string, env: Record<string, string>): Promise<{ cache: Buffer; stdout: string }> {
  const out = join(dir, `${name}.cache`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [TRAINING_HASH_SEED_FLAG, join(dir, 'main.cjs')], {
      env: {
        PATH: process.env['PATH'] ?? '',
        CONTRAST_CODE_CACHE_OUT: out,
        CONTRAST_CODE_CACHE_NAME: '/standin/program.cjs',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('close', (code) => {
      if (code === 0) done({ cache: readFileSync(out), stdout });
      else fail(new Error(`training run ${name} ended with ${code}: ${stderr}`));
    });
  });
}

// A 50 ms timeout, and a checkpoint one event-loop turn after a synchronous stretch of WAIT_MS: with
// 0 the timeout is not due yet at the checkpoint, with 100 it is (the timers phase comes first). A
// second timeout that came due is cleared before the checkpoint: it must never run.
const TIMER_PROGRAM = `
const late = setTimeout(function lateCallback() {
  const words = ['only', 'compiled', 'when', 'the', 'timeout', 'runs'];
  process.stdout.write(words.map((w) => w.toUpperCase()).join(' ') + '\\n');
}, 50);
const cleared = setTimeout(function clearedCallback() { process.stdout.write('CLEARED RAN\\n'); }, 20);
const until = Date.now() + Number(process.env.WAIT_MS);
while (Date.now() < until) { /* a starved machine */ }
setImmediate(() => {
  clearTimeout(cleared);
  ${CHECKPOINT}
  process.stdout.write('checkpoint\\n');
});
void late;`;

test('a timeout that comes due before the checkpoint on a slow run leaves the cache as on a fast run', async (t) => {
  const dir = await standIn(t, TIMER_PROGRAM);
  const fast = await train(dir, 'fast', { WAIT_MS: '0' });
  const slow = await train(dir, 'slow', { WAIT_MS: '100' });
  t.true(fast.cache.equals(slow.cache), 'the held callback did not reach the cache');
  // Held, not dropped: it runs once the cache is written; the cleared one never.
  t.is(slow.stdout, 'checkpoint\nONLY COMPILED WHEN THE TIMEOUT RUNS\n');
  t.is(fast.stdout, 'checkpoint\nONLY COMPILED WHEN THE TIMEOUT RUNS\n');
});

test('without holding (a threshold above every delay), the same two runs differ: the test can tell', async (t) => {
  const dir = await standIn(t, TIMER_PROGRAM);
  const fast = await train(dir, 'fast', { WAIT_MS: '0', CONTRAST_CODE_CACHE_HOLD_MS: '1000000' });
  const slow = await train(dir, 'slow', { WAIT_MS: '100', CONTRAST_CODE_CACHE_HOLD_MS: '1000000' });
  t.false(fast.cache.equals(slow.cache));
  t.true(slow.stdout.startsWith('CLEARED RAN\nONLY COMPILED WHEN THE TIMEOUT RUNS\ncheckpoint\n'), slow.stdout);
});

test('timers below the threshold run before the checkpoint: a start-up path may wait on them', async (t) => {
  const dir = await standIn(
    t,
    `setTimeout(() => { ${CHECKPOINT} process.stdout.write('after a short timer\\n'); }, 5);`,
  );
  t.is((await train(dir, 'short', {})).stdout, 'after a short timer\n');
  await t.throwsAsync(train(dir, 'bad', { CONTRAST_CODE_CACHE_HOLD_MS: 'soon' }), {
    message: /CONTRAST_CODE_CACHE_HOLD_MS=soon: expected a number of milliseconds/,
  });
});

test('a run whose path waits on a held timer is released when it goes idle, and completes', async (t) => {
  const dir = await standIn(t, `setTimeout(() => { ${CHECKPOINT} process.stdout.write('done\\n'); }, 30);`);
  t.is((await train(dir, 'idle', {})).stdout, 'done\n');
});

// Functions first called in an order that varies between runs (two answers racing): V8 numbers
// functions as it creates them, and the cache stores the numbers.
const ORDER_PROGRAM = `
function first() { return [1, 2, 3].map((x) => x + 1).filter(function odd(x) { return x % 2 === 1; }); }
function second() { return { a: () => 'a', b: function bee() { return 'b'; } }; }
const order = process.env.ORDER === 'reversed' ? [second, first] : [first, second];
setImmediate(() => {
  for (const f of order) f();
  ${CHECKPOINT}
});`;

test('runs that first call functions in another order give the same cache from the same seed', async (t) => {
  const dir = await standIn(t, ORDER_PROGRAM);
  const seed = await train(dir, 'seed', {});
  const seedFile = join(dir, 'seed.cache');
  const inOrder = await train(dir, 'in-order', { CONTRAST_CODE_CACHE_IN: seedFile });
  const reversed = await train(dir, 'reversed', { CONTRAST_CODE_CACHE_IN: seedFile, ORDER: 'reversed' });
  t.true(inOrder.cache.equals(reversed.cache));
  // Compiled from source, they differ (which is why the trainer seeds its counted runs).
  const fromSourceReversed = await train(dir, 'source-reversed', { ORDER: 'reversed' });
  t.false(seed.cache.equals(fromSourceReversed.cache));
});

test('a training run reads only the seed it is given, never a program.cache beside the loader', async (t) => {
  const dir = await standIn(
    t,
    `${CHECKPOINT} process.stdout.write(String(globalThis[Symbol.for('contrast.codeCache')]));`,
  );
  const seed = await train(dir, 'seed', {});
  writeFileSync(join(dir, CODE_CACHE_FILE), readFileSync(join(dir, 'seed.cache')));
  t.is((await train(dir, 'stray', {})).stdout, 'absent');
  t.is((await train(dir, 'seeded', { CONTRAST_CODE_CACHE_IN: join(dir, 'seed.cache') })).stdout, 'accepted');
  // A seed V8 rejects (here: damaged) fails the run rather than training from source.
  const damaged = Buffer.from(seed.cache);
  damaged.fill(0x5a, 40);
  writeFileSync(join(dir, 'damaged.cache'), damaged);
  await t.throwsAsync(train(dir, 'from-damaged', { CONTRAST_CODE_CACHE_IN: join(dir, 'damaged.cache') }), {
    message: /the cache to start from, .*damaged\.cache, is rejected by V8/,
  });
});
