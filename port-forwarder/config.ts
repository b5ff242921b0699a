/**
 * Port-forwarder configuration, read once from the environment.
 *
 * Upstream runs `socat TCP-LISTEN:${LISTEN_PORT},fork TCP:${FORWARD_HOST}:${LISTEN_PORT}` (and a loop
 * over `${LISTEN_PORTS}` for several ports) in its port-forwarder pod; the same variables mean the same
 * here. FORWARD_PORT, LISTEN_ADDRESS and CONNECT_TIMEOUT are additions with defaults that keep the
 * upstream behaviour.
 */
import { EnvReader, type Env } from '../lib/config.js';

export interface PortMapping {
  /** Port accepted on LISTEN_ADDRESS. */
  readonly listen: number;
  /** Port dialled on FORWARD_HOST. */
  readonly forward: number;
}

export interface ForwarderConfig {
  readonly listenAddress: string;
  readonly forwardHost: string;
  readonly mappings: readonly PortMapping[];
  readonly connectTimeoutMs: number;
}

const PORT = { min: 1, max: 65535 } as const;

export function forwarderConfigFromEnv(env: Env): Readonly<ForwarderConfig> {
  const r = new EnvReader(env);
  const forwardHost = r.required('FORWARD_HOST', 'the host name or IP address to forward to').trim();
  const listenAddress = r.string('LISTEN_ADDRESS', '0.0.0.0').trim();
  const connectTimeoutMs = r.duration('CONNECT_TIMEOUT', '10s', { min: 1 });
  const single = r.integer('LISTEN_PORT', PORT);
  const forwardPort = r.integer('FORWARD_PORT', PORT);
  const list = r.optional('LISTEN_PORTS');

  const mappings: PortMapping[] = [];
  if (r.lookup('LISTEN_PORT') !== undefined && list !== undefined) {
    r.problem(`LISTEN_PORTS=${list}: expected either LISTEN_PORT or LISTEN_PORTS, not both`);
  } else if (list !== undefined) {
    if (forwardPort !== undefined)
      r.problem(
        `FORWARD_PORT=${forwardPort}: expected only together with LISTEN_PORT (LISTEN_PORTS forwards each port to itself)`,
      );
    const words = list.split(/[\s,]+/).filter((w) => w !== '');
    if (words.length === 0) r.problem(`LISTEN_PORTS=${list}: expected a list of ports separated by spaces or commas`);
    for (const w of words) {
      const n = /^\d+$/.test(w) ? Number(w) : NaN;
      if (!Number.isSafeInteger(n) || n < PORT.min || n > PORT.max)
        r.problem(`LISTEN_PORTS=${list}: expected ports from 1 to 65535, got ${w}`);
      else if (mappings.some((m) => m.listen === n)) r.problem(`LISTEN_PORTS=${list}: port ${n} is listed twice`);
      else mappings.push({ listen: n, forward: n });
    }
  } else if (single !== undefined) {
    mappings.push({ listen: single, forward: forwardPort ?? single });
  } else if (r.lookup('LISTEN_PORT') === undefined) {
    r.problem('LISTEN_PORT is not set: expected the port to listen on (or LISTEN_PORTS with several)');
  }
  if (listenAddress === '') r.problem('LISTEN_ADDRESS=: expected an IP address to listen on');

  return r.finish({ listenAddress, forwardHost, mappings, connectTimeoutMs });
}
