/**
 * The initializer's own configuration, read once at the edge from an EnvReader. Attestation settings
 * are read into the same reader by lib/attestation, so that every problem is reported at once.
 */
import { isIP } from 'node:net';
import type { EnvReader } from '../lib/config.js';
import { readTlsGroups } from '../lib/tls-groups.js';
import { outputLayoutProblems } from './outputs.js';
import { DEFAULT_SECRETS_DIR, DEFAULT_TLS_DIR } from '../lib/pod-layout.js';

export const DEFAULT_COORDINATOR_PORT = 7777;

export interface CoordinatorAddress {
  /** Host name or IP literal, without brackets. */
  readonly host: string;
  readonly port: number;
  /** `host:port`, IPv6 literals in brackets: what a dialer takes. */
  readonly target: string;
}

export interface InitializerConfig {
  readonly coordinator: CoordinatorAddress;
  readonly tlsDir: string;
  readonly secretsDir: string;
  readonly doneFile: string;
  /** Wait between the end of a failed attempt and the start of the next one. */
  readonly retryIntervalMs: number;
  /** CONTRAST_SERVICE_MESH_DISABLED: remove the default-deny inbound rule before anything else. */
  readonly serviceMeshDisabled: boolean;
  /** CONTRAST_TLS_GROUPS: key-exchange groups of the aTLS client (lib/tls-groups.ts). */
  readonly tlsGroups: string;
  /** CRYPTSETUP_DEVICE: the block device of an encrypted persistent volume (secure-pv), if any. */
  readonly cryptsetupDevice: string | undefined;
}

export const ENV = Object.freeze({
  coordinatorHost: 'COORDINATOR_HOST',
  tlsDir: 'CONTRAST_TLS_DIR',
  secretsDir: 'CONTRAST_SECRETS_DIR',
  doneFile: 'CONTRAST_DONE_FILE',
  retryInterval: 'CONTRAST_RETRY_INTERVAL',
  serviceMeshDisabled: 'CONTRAST_SERVICE_MESH_DISABLED',
  cryptsetupDevice: 'CRYPTSETUP_DEVICE',
});

/** Reads every initializer variable; problems stay in the reader (the caller calls `finish`). */
export function readInitializerConfig(reader: EnvReader): InitializerConfig {
  const rawHost = reader.required(ENV.coordinatorHost, 'the Coordinator as host or host:port (port 7777 when absent)');
  const coordinator = rawHost === '' ? undefined : parseCoordinatorHost(rawHost);
  if (typeof coordinator === 'string') reader.problem(`${ENV.coordinatorHost}=${rawHost}: expected ${coordinator}`);
  const tlsDir = absolutePath(reader, ENV.tlsDir, DEFAULT_TLS_DIR);
  const secretsDir = absolutePath(reader, ENV.secretsDir, DEFAULT_SECRETS_DIR);
  const doneFile = absolutePath(reader, ENV.doneFile, '/done');
  const retryIntervalMs = reader.duration(ENV.retryInterval, '5s', { min: 1 });
  // Upstream: any non-empty value disables the mesh (the CLI sets `true`).
  const serviceMeshDisabled = reader.optional(ENV.serviceMeshDisabled) !== undefined;
  // Upstream: an empty value is the same as unset.
  const cryptsetupDevice = reader.optional(ENV.cryptsetupDevice);
  if (tlsDir.startsWith('/') && secretsDir.startsWith('/') && doneFile.startsWith('/')) {
    for (const p of outputLayoutProblems({ tlsDir, secretsDir, doneFile }, ENV)) reader.problem(p);
  }
  return {
    coordinator:
      typeof coordinator === 'object' ? coordinator : { host: '', port: DEFAULT_COORDINATOR_PORT, target: '' },
    tlsDir,
    secretsDir,
    doneFile,
    retryIntervalMs,
    serviceMeshDisabled,
    tlsGroups: readTlsGroups(reader),
    cryptsetupDevice,
  };
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 literal (what upstream's JoinHostPort accepts).
 * Returns the address, or a description of what was expected.
 */
export function parseCoordinatorHost(text: string): CoordinatorAddress | string {
  const value = text.trim();
  let host: string;
  let portText: string | undefined;
  if (value.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(value);
    if (m === null) return 'an IPv6 literal in brackets, such as [fd00::1] or [fd00::1]:7777';
    host = m[1] ?? '';
    portText = m[2];
    if (isIP(host) !== 6) return `an IPv6 address inside the brackets, not "${host}"`;
  } else if (isIP(value) === 6) {
    host = value;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon >= 0 && value.indexOf(':') !== colon)
      return 'IPv6 literals in brackets when a port is given, such as [fd00::1]:7777';
    host = colon >= 0 ? value.slice(0, colon) : value;
    portText = colon >= 0 ? value.slice(colon + 1) : undefined;
    if (isIP(host) !== 4 && !HOSTNAME.test(host)) return 'a host name or IP address, optionally followed by :port';
  }
  let port = DEFAULT_COORDINATOR_PORT;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return 'a port from 1 to 65535 after the colon';
  }
  const target = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  return Object.freeze({ host, port, target });
}

function absolutePath(reader: EnvReader, name: string, fallback: string): string {
  const value = reader.string(name, fallback);
  if (!value.startsWith('/')) reader.problem(`${name}=${value}: expected an absolute path`);
  return value;
}
