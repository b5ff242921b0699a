/**
 * A private dbus-daemon and a stand-in for org.freedesktop.systemd1 that speaks the real protocol
 * (through our own D-Bus code, over the daemon) and records what it was asked to do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DBusConnection } from '../../../runtime-installer/dbus/connection.js';
import { DBusError } from '../../../runtime-installer/errors.js';
import { asString, type Message } from '../../../runtime-installer/dbus/wire.js';

export interface PrivateBus {
  readonly address: string;
  stop(): Promise<void>;
}

export async function startPrivateBus(): Promise<PrivateBus> {
  const dir = mkdtempSync(join(tmpdir(), `ri-dbus-${process.pid}-`));
  const conf = join(dir, 'bus.conf');
  writeFileSync(
    conf,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${join(dir, 'bus')}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
  );
  const child: ChildProcess = spawn('dbus-daemon', [`--config-file=${conf}`, '--nofork', '--print-address'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve(out.slice(0, nl).trim());
    });
    child.once('exit', (code) => {
      reject(new Error(`dbus-daemon exited with ${code}`));
    });
    child.once('error', reject);
  });
  return {
    address,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface StandInUnit {
  activeState: string;
  activeEnterTimestampUs: bigint;
  /** How a restart job ends: its JobRemoved result, or never (no signal). */
  restartResult: 'done' | 'failed' | 'never';
  /** RestartUnit itself fails with this D-Bus error name. */
  restartError?: string;
}

export interface StandInCall {
  readonly member: string;
  readonly args: unknown[];
}

export class SystemdStandIn {
  readonly calls: StandInCall[] = [];
  private jobs = 0;

  private constructor(
    private readonly conn: DBusConnection,
    readonly units: Map<string, StandInUnit>,
  ) {}

  static async start(address: string, units: Record<string, StandInUnit>): Promise<SystemdStandIn> {
    const conn = await DBusConnection.connect(address);
    const s = new SystemdStandIn(conn, new Map(Object.entries(units)));
    conn.serve((m) => s.handle(m));
    const r = await conn.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'RequestName',
      signature: 'su',
      body: ['org.freedesktop.systemd1', 4],
    });
    if (r.body[0] !== 1) throw new Error(`RequestName answered ${JSON.stringify(r.body[0])}`);
    return s;
  }

  restarts(): string[] {
    return this.calls.filter((c) => c.member === 'RestartUnit').map((c) => String(c.args[0]));
  }

  close(): void {
    this.conn.close();
  }

  private unitPath(name: string): string {
    return `/org/freedesktop/systemd1/unit/${name.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
  }

  private handle(m: Message): {
    signature: string;
    body: (string | number | bigint | boolean | { signature: string; value: string | bigint })[];
  } {
    this.calls.push({ member: m.member ?? '', args: m.body });
    if (m.interface === 'org.freedesktop.systemd1.Manager') {
      const name = asString(m.body[0]);
      switch (m.member) {
        case 'LoadUnit':
          return { signature: 'o', body: [this.unitPath(name)] };
        case 'GetUnit':
          if (!this.units.has(name))
            throw new DBusError(`Unit ${name} not loaded.`, { dbusName: 'org.freedesktop.systemd1.NoSuchUnit' });
          return { signature: 'o', body: [this.unitPath(name)] };
        case 'Subscribe':
          return { signature: '', body: [] };
        case 'RestartUnit':
          return { signature: 'o', body: [this.restart(name)] };
        default:
          throw new DBusError(`unknown method ${m.member ?? ''}`, {
            dbusName: 'org.freedesktop.DBus.Error.UnknownMethod',
          });
      }
    }
    if (m.interface === 'org.freedesktop.DBus.Properties' && m.member === 'Get') {
      const entry = [...this.units.entries()].find(([n]) => this.unitPath(n) === m.path);
      const unit = entry?.[1];
      switch (asString(m.body[1])) {
        case 'LoadState':
          return { signature: 'v', body: [{ signature: 's', value: unit === undefined ? 'not-found' : 'loaded' }] };
        case 'ActiveState':
          return { signature: 'v', body: [{ signature: 's', value: unit?.activeState ?? 'inactive' }] };
        case 'ActiveEnterTimestamp':
          return { signature: 'v', body: [{ signature: 't', value: unit?.activeEnterTimestampUs ?? 0n }] };
        default:
          throw new DBusError('unknown property', { dbusName: 'org.freedesktop.DBus.Error.InvalidArgs' });
      }
    }
    throw new DBusError('unknown interface', { dbusName: 'org.freedesktop.DBus.Error.UnknownInterface' });
  }

  private restart(name: string): string {
    const unit = this.units.get(name);
    if (unit === undefined)
      throw new DBusError(`Unit ${name} not found.`, { dbusName: 'org.freedesktop.systemd1.NoSuchUnit' });
    if (unit.restartError !== undefined) throw new DBusError('restart refused', { dbusName: unit.restartError });
    const id = ++this.jobs;
    const job = `/org/freedesktop/systemd1/job/${id}`;
    if (unit.restartResult !== 'never') {
      setTimeout(() => {
        if (unit.restartResult === 'done') {
          unit.activeState = 'active';
          unit.activeEnterTimestampUs = BigInt(Date.now()) * 1000n;
        } else unit.activeState = 'failed';
        this.conn.emitSignal('/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'JobRemoved', 'uoss', [
          id,
          job,
          name,
          unit.restartResult,
        ]);
      }, 20);
    }
    return job;
  }
}
