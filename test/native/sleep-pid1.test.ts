/**
 * Our sleep as the init of a new PID namespace (`unshare --fork --pid`, root), as in a container whose
 * shell execs it: SIGTERM from outside the namespace ends it with exit status 0 within moments, where
 * busybox's sleep, with no handler, is never told (the kernel drops default-action signals to a
 * namespace's init) and waits for SIGKILL. The argument handling is in sleep.test.ts.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSleep } from './sleep-build.js';

const WORK = mkdtempSync(join(tmpdir(), `contrast-sleep-pid1-${process.pid}-`));
test.after.always(() => {
  rmSync(WORK, { recursive: true, force: true });
});
const SLEEP = buildSleep(WORK);

/** Starts argv as PID 1 of a new PID namespace; returns unshare and the pid of argv (seen from here). */
async function asInit(argv: readonly string[]): Promise<{ unshare: ChildProcess; init: number }> {
  const unshare = spawn('unshare', ['--fork', '--pid', '--kill-child=SIGKILL', ...argv], { stdio: 'ignore' });
  const pid = unshare.pid!;
  const until = Date.now() + 10_000;
  for (;;) {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (children !== '') {
      const init = Number(children.split(' ')[0]);
      // Past the fork: the child has exec'd argv[0].
      if (readlinkSync(`/proc/${init}/exe`) === argv[0]) {
        const nspid = /^NSpid:\s+\d+\s+(\d+)$/m.exec(readFileSync(`/proc/${init}/status`, 'utf8'))?.[1];
        if (nspid !== '1') throw new Error(`expected PID 1 in the new namespace, got NSpid ${String(nspid)}`);
        return { unshare, init };
      }
    }
    if (Date.now() > until) throw new Error(`unshare ${argv.join(' ')} did not start`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function exitWithin(child: ChildProcess, ms: number): Promise<[number | null, string | null] | 'running'> {
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  return Promise.race([
    exited,
    new Promise<'running'>((r) =>
      setTimeout(() => {
        r('running');
      }, ms),
    ),
  ]);
}

for (const args of [['inf'], ['3600']]) {
  test(`as PID 1, sleep ${args.join(' ')} ends on SIGTERM with exit status 0`, async (t) => {
    const { unshare, init } = await asInit([await SLEEP, ...args]);
    t.teardown(() => unshare.kill('SIGKILL'));
    process.kill(init, 'SIGTERM');
    // unshare exits with its child's status.
    t.deepEqual(await exitWithin(unshare, 3000), [0, null]);
  });
}

test('as PID 1, a finite sleep ends by itself with exit status 0', async (t) => {
  const { unshare } = await asInit([await SLEEP, '0.3']);
  t.teardown(() => unshare.kill('SIGKILL'));
  t.deepEqual(await exitWithin(unshare, 5000), [0, null]);
});

test("as PID 1, busybox's sleep does not see SIGTERM (why ours exists); SIGKILL ends it", async (t) => {
  const busybox = '/usr/bin/busybox';
  if (!existsSync(busybox)) {
    t.fail('busybox-static missing (.ci/run installs it)');
    return;
  }
  const { unshare, init } = await asInit([busybox, 'sleep', '3600']);
  t.teardown(() => unshare.kill('SIGKILL'));
  process.kill(init, 'SIGTERM');
  t.is(await exitWithin(unshare, 1000), 'running');
  process.kill(init, 'SIGKILL');
  const ended = await exitWithin(unshare, 3000);
  t.not(ended, 'running');
});
