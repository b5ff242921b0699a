import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.js';
import { restartIfNeeded } from '../../runtime-installer/restart.js';
import { SystemdDBus } from '../../runtime-installer/systemd.js';
import { DBusConnection } from '../../runtime-installer/dbus/connection.js';
import { startPrivateBus, SystemdStandIn, type StandInUnit } from './helpers/dbus.js';

async function setup(t: ExecutionContext, units: Record<string, StandInUnit>) {
  const bus = await startPrivateBus();
  t.teardown(() => bus.stop());
  const standIn = await SystemdStandIn.start(bus.address, units);
  t.teardown(() => {
    standIn.close();
  });
  const sm = await SystemdDBus.connect(bus.address, 5000);
  t.teardown(() => {
    sm.close();
  });
  const dir = mkdtempSync(join(tmpdir(), `ri-restart-${process.pid}-`));
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const configPath = join(dir, 'config.toml');
  writeFileSync(configPath, 'version = 2\n');
  const mtimeUs = statSync(configPath, { bigint: true }).mtimeNs / 1000n;
  return { bus, standIn, sm, configPath, mtimeUs };
}

const before = (us: bigint): StandInUnit => ({
  activeState: 'active',
  activeEnterTimestampUs: us - 1_000_000n,
  restartResult: 'done',
});

test('the unit that started before the config change is restarted once; a re-run skips it', async (t) => {
  const s = await setup(t, {
    'containerd.service': { activeState: 'active', activeEnterTimestampUs: 1n, restartResult: 'done' },
  });
  const r1 = await restartIfNeeded(
    s.sm,
    { units: ['containerd.service'], configPath: s.configPath, timeoutMs: 5000 },
    silentLogger(),
  );
  t.deepEqual(r1, { action: 'restarted', unit: 'containerd.service' });
  const r2 = await restartIfNeeded(
    s.sm,
    { units: ['containerd.service'], configPath: s.configPath, timeoutMs: 5000 },
    silentLogger(),
  );
  t.deepEqual(r2, { action: 'skipped', unit: 'containerd.service' });
  t.deepEqual(s.standIn.restarts(), ['containerd.service']);
  t.true(s.standIn.calls.some((c) => c.member === 'Subscribe'));
});

test('a unit that started after the config change is not restarted (µs precision)', async (t) => {
  const s = await setup(t, {});
  s.standIn.units.set('containerd.service', {
    activeState: 'active',
    activeEnterTimestampUs: s.mtimeUs + 1n,
    restartResult: 'done',
  });
  const r = await restartIfNeeded(
    s.sm,
    { units: ['containerd.service'], configPath: s.configPath, timeoutMs: 5000 },
    silentLogger(),
  );
  t.is(r.action, 'skipped');
  t.deepEqual(s.standIn.restarts(), []);
});

test('the first existing unit of the list is chosen; an inactive unit counts as existing', async (t) => {
  const s = await setup(t, {
    'k3s-agent.service': { activeState: 'inactive', activeEnterTimestampUs: 0n, restartResult: 'done' },
    'other.service': before(10n ** 16n),
  });
  const r = await restartIfNeeded(
    s.sm,
    { units: ['k3s.service', 'k3s-agent.service', 'other.service'], configPath: s.configPath, timeoutMs: 5000 },
    silentLogger(),
  );
  t.deepEqual(r, { action: 'restarted', unit: 'k3s-agent.service' });
  t.deepEqual(s.standIn.restarts(), ['k3s-agent.service']);
});

test('no unit of the list exists → ERR_NO_UNIT, nothing restarted', async (t) => {
  const s = await setup(t, {});
  const err = await t.throwsAsync(
    restartIfNeeded(
      s.sm,
      { units: ['k3s.service', 'k3s-agent.service'], configPath: s.configPath, timeoutMs: 5000 },
      silentLogger(),
    ),
  );
  t.is((err as { code?: string }).code, 'ERR_NO_UNIT');
  t.regex(err.message, /\[k3s\.service, k3s-agent\.service\]/);
});

const failures: [string, Partial<StandInUnit>, string, RegExp][] = [
  ['job result failed', { restartResult: 'failed' }, 'ERR_RESTART', /result failed: expected done/],
  ['job never finishes', { restartResult: 'never' }, 'ERR_RESTART_TIMEOUT', /did not finish within 300 ms/],
  ['RestartUnit refused', { restartError: 'org.freedesktop.DBus.Error.AccessDenied' }, 'ERR_RESTART', /AccessDenied/],
];
for (const [name, unit, code, re] of failures) {
  test(`restart failure is reported: ${name}`, async (t) => {
    const s = await setup(t, { 'containerd.service': { ...before(1_000_000n), ...unit } });
    // Only the never-finishing job waits out the (short) timeout; the others must fail on their own.
    const timeoutMs = unit.restartResult === 'never' ? 300 : 20_000;
    const err = await t.throwsAsync(
      restartIfNeeded(s.sm, { units: ['containerd.service'], configPath: s.configPath, timeoutMs }, silentLogger()),
    );
    t.is((err as { code?: string }).code, code);
    t.regex(err.message, re);
    t.deepEqual(s.standIn.restarts(), ['containerd.service']);
  });
}

test('connecting to a missing bus socket is a clear error', async (t) => {
  const err = await t.throwsAsync(DBusConnection.connect('unix:path=/nonexistent/bus', 1000));
  t.is((err as { code?: string }).code, 'ERR_DBUS_CONNECT');
  t.regex(err.message, /\/nonexistent\/bus/);
});
