/**
 * The host's systemd through its D-Bus API (org.freedesktop.systemd1 on the system bus): unit state
 * and start time, and a restart that waits for the job's JobRemoved signal.
 */
import { DBusConnection } from './dbus/connection.js';
import { asString, type DBusValue, type Message, type Variant } from './dbus/wire.js';
import { DBusError, RestartError } from './errors.js';
import { errorMessage } from '../lib/errors.js';

export interface UnitInfo {
  readonly name: string;
  readonly loadState: string;
  readonly activeState: string;
  /** µs since the epoch; 0 when the unit never became active. */
  readonly activeEnterTimestampUs: bigint;
}

/** What the restart logic needs from a service manager. */
export interface ServiceManager {
  /** The unit, or undefined when systemd does not know it (load state not-found). */
  unit(name: string): Promise<UnitInfo | undefined>;
  /** Restarts the unit and waits for the job to finish; throws RestartError on failure or timeout. */
  restart(name: string, timeoutMs: number): Promise<void>;
  close(): void;
}

const DEST = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const UNIT = 'org.freedesktop.systemd1.Unit';
const PROPS = 'org.freedesktop.DBus.Properties';

export const DEFAULT_SYSTEM_BUS = 'unix:path=/var/run/dbus/system_bus_socket';

export class SystemdDBus implements ServiceManager {
  private constructor(
    private readonly conn: DBusConnection,
    private readonly callTimeoutMs: number,
  ) {}

  static async connect(address: string, callTimeoutMs = 25_000): Promise<SystemdDBus> {
    return new SystemdDBus(await DBusConnection.connect(address, callTimeoutMs), callTimeoutMs);
  }

  async unit(name: string): Promise<UnitInfo | undefined> {
    let path: string;
    try {
      const r = await this.manager('LoadUnit', 's', [name]);
      path = asString(r.body[0]);
    } catch (err) {
      if (err instanceof DBusError && err.dbusName === 'org.freedesktop.systemd1.NoSuchUnit') return undefined;
      throw err;
    }
    const loadState = asString(await this.property(path, 'LoadState'));
    if (loadState === 'not-found') return undefined;
    const ts = await this.property(path, 'ActiveEnterTimestamp');
    return {
      name,
      loadState,
      activeState: asString(await this.property(path, 'ActiveState')),
      activeEnterTimestampUs: typeof ts === 'bigint' ? ts : BigInt(Number(ts)),
    };
  }

  async restart(name: string, timeoutMs: number): Promise<void> {
    const rule = `type='signal',sender='${DEST}',path='${MANAGER_PATH}',interface='${MANAGER}',member='JobRemoved'`;
    await this.conn.call(
      {
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'AddMatch',
        signature: 's',
        body: [rule],
      },
      this.callTimeoutMs,
    );
    // Subscribe makes systemd emit job signals to us; AlreadySubscribed and friends are harmless.
    await this.manager('Subscribe', '', []).catch(() => undefined);
    const removed = new Map<string, string>();
    let wake: (() => void) | undefined;
    const off = this.conn.onSignal((m: Message) => {
      if (m.member !== 'JobRemoved' || m.interface !== MANAGER) return;
      // JobRemoved(u id, o job, s unit, s result)
      removed.set(asString(m.body[1]), asString(m.body[3]));
      wake?.();
    });
    try {
      let job: string;
      try {
        job = asString((await this.manager('RestartUnit', 'ss', [name, 'replace'])).body[0]);
      } catch (err) {
        throw new RestartError(`restarting ${name}: ${errorMessage(err)}`, { cause: err });
      }
      const deadline = Date.now() + timeoutMs;
      while (!removed.has(job)) {
        const left = deadline - Date.now();
        if (left <= 0)
          throw new RestartError(`restarting ${name}: job ${job} did not finish within ${timeoutMs} ms`, {
            code: 'ERR_RESTART_TIMEOUT',
          });
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      const result = removed.get(job);
      if (result !== 'done')
        throw new RestartError(`restarting ${name}: job ${job} finished with result ${result ?? ''}: expected done`);
      const after = await this.unit(name);
      if (after?.activeState === 'failed')
        throw new RestartError(`restarting ${name}: unit is failed after the restart`);
    } finally {
      off();
    }
  }

  close(): void {
    this.conn.close();
  }

  private manager(member: string, signature: string, body: DBusValue[]): Promise<Message> {
    return this.conn.call(
      { destination: DEST, path: MANAGER_PATH, interface: MANAGER, member, signature, body },
      this.callTimeoutMs,
    );
  }

  private async property(path: string, name: string): Promise<DBusValue> {
    const r = await this.conn.call(
      { destination: DEST, path, interface: PROPS, member: 'Get', signature: 'ss', body: [UNIT, name] },
      this.callTimeoutMs,
    );
    return (r.body[0] as Variant).value;
  }
}
