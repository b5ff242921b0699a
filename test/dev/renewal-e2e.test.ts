/**
 * Certificate renewal end to end, on loopback without root: real initializers in renewal mode, real
 * meshproxies (explicit mode), the development Coordinator.
 *
 * 1. Two pods talk over mutual TLS; a long-lived connection is opened. The Coordinator rotates its mesh
 *    CA (as after a manifest update or a recovery); a third pod starts and gets the new CA. Within the
 *    renewal interval (plus the time the processes need on a loaded machine) all three talk to each
 *    other, the old pods renewed in place (generation 2, new mesh CA, INFO line with both
 *    fingerprints), no process restarted, and the long-lived connection still carries bytes.
 * 2. A Coordinator outage during renewal: WARN lines saying why, the set on disk untouched, the pod
 *    still serving; a Coordinator back on the same state directory (a simulated recovery: new mesh CA,
 *    same root) and the pod renews.
 */
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessGroup } from '../../dev/demo-processes.js';
import { writeFileAtomic } from '../../lib/fs-atomic.js';
import {
  coordinatorFor,
  echo,
  eventually,
  logLines,
  openThrough,
  planPods,
  startApp,
  startPod,
  talks,
  tlsSnapshot,
  workDir,
} from './renewal-pods.js';

const STEP_MS = 60_000;

test('rotation: two renewing pods and a third started after it all talk over mTLS; nothing restarted; a long-lived connection survives', async (t) => {
  const work = await workDir(t, 'rotate');
  const group = new ProcessGroup();
  t.teardown(() => group.stopAll());
  const names = ['a', 'b', 'c'];
  const coordinator = await coordinatorFor(t, names, join(work, 'coordinator'));
  const pods = await planPods(work, names);
  const [a, b, c] = pods as [(typeof pods)[0], (typeof pods)[0], (typeof pods)[0]];
  const opts = { coordinatorPort: coordinator.port, renewalInterval: '3s', pods, timeoutMs: STEP_MS };
  for (const pod of [a, b]) await startPod(group, pod, { ...opts, appPort: await startApp(t, pod.name) });
  const appC = await startApp(t, 'c');

  t.true(await talks(a, 'b'), 'a -> b before the rotation');
  t.true(await talks(b, 'a'), 'b -> a before the rotation');
  const longLived = await openThrough(a, 'b');
  t.is(longLived.greeting, 'hello from b');
  t.is(await echo(longLived.socket, 'before'), 'before');
  const oldCa = await readFile(join(a.tlsDir, 'mesh-ca.pem'), 'utf8');
  const root = await readFile(join(a.tlsDir, 'coordinator-root-ca.pem'), 'utf8');
  const pids = [a, b].flatMap((p) => [p.initializer?.process.pid, p.meshproxy?.process.pid]);

  const newCa = await coordinator.rotate();
  t.not(newCa, oldCa);
  await startPod(group, c, { ...opts, appPort: appC });
  t.is(await readFile(join(c.tlsDir, 'mesh-ca.pem'), 'utf8'), newCa, 'the third pod starts with the new mesh CA');

  const pairs = pods.flatMap((from) => pods.filter((to) => to !== from).map((to) => [from, to.name] as const));
  const allTalk = await eventually(
    async () => (await Promise.all(pairs.map(([from, to]) => talks(from, to)))).every(Boolean),
    STEP_MS,
  );
  const failing = allTalk
    ? []
    : (
        await Promise.all(pairs.map(async ([from, to]) => ((await talks(from, to)) ? '' : `${from.name}->${to}`)))
      ).filter(Boolean);
  t.true(allTalk, `all pairs talk after the rotation; failing: ${failing.join(' ')}`);

  for (const pod of [a, b]) {
    const snap = await tlsSnapshot(pod.tlsDir);
    t.is(snap.files['mesh-ca.pem'], newCa, `${pod.name} renewed to the new mesh CA`);
    t.is(snap.files['coordinator-root-ca.pem'], root, `${pod.name}: same root`);
    t.true(Number(snap.generation) >= 2, `${pod.name}: generation ${snap.generation.trim()}`);
    const renewed = await logLines(join(pod.dir, 'initializer.log'), 'Renewed mesh certificates');
    t.true(renewed.length >= 1, `${pod.name}: an INFO line for the renewal`);
    t.is(renewed[0]?.['oldMeshCA'], new X509Certificate(oldCa).fingerprint256);
    t.is(renewed[0]?.['newMeshCA'], new X509Certificate(newCa).fingerprint256);
    t.is(renewed[0]?.['level'], 'INFO');
    const changed = await logLines(
      join(pod.dir, 'meshproxy.log'),
      'mesh CA changed: trusting the previous mesh CA too until the grace window ends',
    );
    t.is(
      changed[0]?.['newMeshCA'],
      new X509Certificate(newCa).fingerprint256,
      `${pod.name}: meshproxy reloaded, trusting both CAs`,
    );
  }
  t.is((await tlsSnapshot(c.tlsDir)).generation, '1\n');

  t.is(
    await echo(longLived.socket, 'after the rotation'),
    'after the rotation',
    'the connection opened before the rotation still works',
  );
  longLived.socket.destroy();
  t.deepEqual(
    [a, b].flatMap((p) => [p.initializer?.process.pid, p.meshproxy?.process.pid]),
    pids,
  );
  for (const pod of pods) {
    for (const child of [pod.initializer, pod.meshproxy])
      t.is(child?.process.exitCode, null, `${child?.name ?? '?'} still running`);
  }

  // SIGTERM ends the renewing initializers cleanly.
  await group.stopAll();
  for (const pod of pods) {
    t.is(await pod.initializer?.exited, 0, `initializer ${pod.name} exits 0 on SIGTERM`);
    t.is((await logLines(join(pod.dir, 'initializer.log'), 'Renewal stopped')).length, 1);
  }
});

test('Coordinator outage during renewal: WARN lines, the old set untouched, the pod serving; renewed after the Coordinator is back', async (t) => {
  const work = await workDir(t, 'outage');
  const group = new ProcessGroup();
  t.teardown(() => group.stopAll());
  const names = ['a', 'b'];
  const stateDir = join(work, 'coordinator');
  const first = await coordinatorFor(t, names, stateDir);
  const pods = await planPods(work, names);
  const [a, b] = pods as [(typeof pods)[0], (typeof pods)[0]];
  const opts = { coordinatorPort: first.port, renewalInterval: '1h', pods, timeoutMs: STEP_MS };
  for (const pod of [a, b]) await startPod(group, pod, { ...opts, appPort: await startApp(t, pod.name) });
  t.true(await talks(b, 'a'));
  const before = await tlsSnapshot(a.tlsDir);
  t.is(before.generation, '1\n');

  await first.close();
  // The meshproxy's request (as after an unknown-CA failure): renew now.
  // Written by rename, as the meshproxy writes it (lib/fs-atomic).
  await writeFileAtomic(join(a.dir, 'contrast', 'renewal-request'), 'test: renew now\n');
  const log = join(a.dir, 'initializer.log');
  t.true(
    await eventually(
      async () => (await logLines(log, 'Renewing cert failed, keeping the current certificates')).length >= 2,
      STEP_MS,
    ),
    'WARN lines while the Coordinator is down',
  );
  const warns = await logLines(log, 'Renewing cert failed, keeping the current certificates');
  t.is(warns[0]?.['level'], 'WARN');
  t.regex(String(warns[0]?.['err']), /ECONNREFUSED.*check that the Coordinator is running/);
  t.regex(String(warns[0]?.['reason']), /^meshproxy: test: renew now/);
  t.true(Number(warns[1]?.['retryInMs']) > Number(warns[0]?.['retryInMs']), 'the retries back off');
  t.deepEqual(await tlsSnapshot(a.tlsDir), before, 'the set on disk is untouched');
  t.true(await talks(b, 'a'), 'the pod keeps serving');

  // Back on the same state directory: a new mesh CA under the same root (a simulated recovery).
  const second = await coordinatorFor(t, names, stateDir, `127.0.0.1:${first.port}`);
  t.true(
    await eventually(async () => (await tlsSnapshot(a.tlsDir)).generation === '2\n', STEP_MS),
    'renewed once the Coordinator is back',
  );
  const after = await tlsSnapshot(a.tlsDir);
  t.not(after.files['mesh-ca.pem'], before.files['mesh-ca.pem']);
  t.is(after.files['mesh-ca.pem'], await readFile(join(stateDir, 'mesh-ca.pem'), 'utf8'));
  t.is(after.files['coordinator-root-ca.pem'], before.files['coordinator-root-ca.pem'], 'same root');
  t.is(after.files['key.pem'], before.files['key.pem'], 'same key (same process)');
  t.is(a.initializer?.process.exitCode, null);
  await second.close();
});
