/**
 * Our sleep (native/sleep) as a program: the same bytes from two builds, a static binary of about a
 * kilobyte without libc, the system call numbers of the uapi headers, arguments as GNU and busybox
 * sleep take them (sums, fractions, suffixes, inf) with a message naming a bad one, and SIGTERM,
 * SIGINT and SIGHUP ending it with exit status 0. As a PID namespace's init: sleep-pid1.test.ts.
 */
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SLEEP_SOURCE, buildSleep } from './sleep-build.js';

const WORK = mkdtempSync(join(tmpdir(), `contrast-sleep-${process.pid}-`));
test.after.always(() => {
  rmSync(WORK, { recursive: true, force: true });
});
const SLEEP = buildSleep(join(WORK, 'a'));

interface Outcome {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

async function sleep(args: readonly string[]): Promise<Outcome> {
  const started = process.hrtime.bigint();
  const r = spawnSync(await SLEEP, args, { encoding: 'utf8', timeout: 30_000 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms };
}

test('two builds give the same bytes: a static executable of at most 4 KiB, no interpreter, no build-id', async (t) => {
  const a = readFileSync(await SLEEP);
  const b = readFileSync(await buildSleep(join(WORK, 'b')));
  t.true(a.equals(b));
  t.true(a.length <= 4096, `${a.length} bytes`);
  const headers = execFileSync('readelf', ['-lSW', await SLEEP], { encoding: 'utf8' });
  t.regex(headers, /Elf file type is EXEC/);
  t.notRegex(headers, /INTERP|DYNAMIC|\.note|\.comment|\.eh_frame/);
});

test('the system call numbers and signals are those of the kernel uapi headers', (t) => {
  const arch = readFileSync(join(SLEEP_SOURCE, 'arch-x86_64.h'), 'utf8');
  const uapi = readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8');
  const defines = [...arch.matchAll(/^#define SYS_(\w+) (\d+)$/gm)];
  t.is(defines.length, 5);
  for (const [, name, number] of defines) t.regex(uapi, new RegExp(`^#define __NR_${name!} ${number!}$`, 'm'), name);
  const signals = readFileSync('/usr/include/asm-generic/signal.h', 'utf8');
  const source = readFileSync(join(SLEEP_SOURCE, 'sleep.c'), 'utf8');
  for (const name of ['SIGHUP', 'SIGINT', 'SIGTERM']) {
    const ours = new RegExp(`^#define ${name} (\\d+)$`, 'm').exec(source)?.[1];
    t.regex(signals, new RegExp(`^#define ${name}\\s+${ours!}$`, 'm'), name);
  }
});

const bad: [string, string[], RegExp][] = [
  ['no operand', [], /^sleep: missing operand: expected NUMBER\[SUFFIX\]\.\.\. or inf\n/],
  ['a word', ['soon'], /^sleep: invalid time interval 'soon': expected NUMBER\[SUFFIX\]/],
  ['an unknown suffix', ['1x'], /'1x': expected .* SUFFIX s, m, h or d/],
  ['a suffix twice', ['1ss'], /'1ss'/],
  ['a negative number', ['-1'], /'-1'/],
  ['a lone point', ['.'], /'\.'/],
  ['an empty argument', [''], /invalid time interval '':/],
  ['an exponent', ['1e3'], /'1e3'/],
  ['nan', ['nan'], /'nan'/],
  ['one bad among good ones', ['0', '2y', '0'], /^sleep: invalid time interval '2y'/],
];
for (const [name, args, message] of bad) {
  test(`exit status 1 with a message naming the argument: ${name}`, async (t) => {
    const r = await sleep(args);
    t.is(r.status, 1);
    t.regex(r.stderr, message);
    t.regex(r.stderr, /Try 'sleep --help' for more information\.\n$/);
    t.is(r.stdout, '');
  });
}

test('every bad argument is named, and nothing is waited for', async (t) => {
  const r = await sleep(['1h', 'a', 'b']);
  t.is(r.status, 1);
  t.deepEqual(
    [...r.stderr.matchAll(/invalid time interval '(\w+)'/g)].map((m) => m[1]),
    ['a', 'b'],
  );
});

test('--help prints the usage on stdout; -- ends the options', async (t) => {
  const help = await sleep(['--help']);
  t.is(help.status, 0);
  t.regex(help.stdout, /^Usage: sleep NUMBER\[SUFFIX\]\.\.\.\n/);
  t.regex(help.stdout, /SIGTERM/);
  t.is((await sleep(['--', '0'])).status, 0);
  t.is((await sleep(['--', '--help'])).status, 1);
});

// The least time each waits: the sum of its arguments. Waiting less is wrong; the upper bound only
// catches a unit mix-up (seconds for milliseconds) and leaves room for a loaded machine.
const good: [string[], number][] = [
  [['0'], 0],
  [['+0'], 0],
  [['0.2'], 200],
  [['.1', '0.1s'], 200],
  [['0.003m'], 180],
  [['0.00005h'], 180],
  [['0.000002d'], 172.8],
  [['0.05', '0.05', '0.05', '0.05'], 200],
  [['0.', '0.2'], 200],
  [['0.1000000001'], 100],
];
for (const [args, least] of good) {
  test(`sleep ${args.join(' ')} waits ${least} ms and exits 0`, async (t) => {
    const r = await sleep(args);
    t.is(r.status, 0, r.stderr);
    t.is(r.stderr, '');
    t.true(r.ms >= least, `${r.ms} ms`);
    t.true(r.ms < least + 5000, `${r.ms} ms`);
  });
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  for (const args of [['inf'], ['INFINITY'], ['3600']]) {
    test(`${signal} ends sleep ${args.join(' ')} with exit status 0`, async (t) => {
      const child = spawn(await SLEEP, args, { stdio: 'ignore' });
      t.teardown(() => child.kill('SIGKILL'));
      await new Promise((r) => setTimeout(r, 200));
      t.is(child.exitCode, null, 'still waiting');
      const exited = once(child, 'exit');
      child.kill(signal);
      t.deepEqual(await exited, [0, null]);
    });
  }
}

test('a stop and continue does not end the wait early', async (t) => {
  const child = spawn(await SLEEP, ['0.6'], { stdio: 'ignore' });
  const started = Date.now();
  const exited = once(child, 'exit');
  await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGSTOP');
  await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGCONT');
  t.deepEqual(await exited, [0, null]);
  t.true(Date.now() - started >= 600);
});

test('other signals keep their default action (SIGUSR1 ends it by the signal)', async (t) => {
  const child = spawn(await SLEEP, ['inf'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  const exited = once(child, 'exit');
  child.kill('SIGUSR1');
  t.deepEqual(await exited, [null, 'SIGUSR1']);
});
