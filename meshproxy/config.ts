/**
 * The meshproxy's configuration, read once from the environment into a frozen object.
 *
 * Annotation values come from CONTRAST_INGRESS_PROXY_CONFIG / CONTRAST_EGRESS_PROXY_CONFIG /
 * CONTRAST_ADMIN_PORT (legacy EDG_* names accepted). Everything else has upstream defaults and exists
 * so that tests and hosts without NET_ADMIN can move paths or switch to the explicit mode.
 */
import { isIP } from 'node:net';
import { EnvReader, type Env } from '../lib/config.js';
import { readTlsGroups } from '../lib/tls-groups.js';
import { DEFAULT_TLS_DIR, defaultRenewalSignalFile, RENEWAL_SIGNAL_ENV } from '../lib/pod-layout.js';
import { parseAdminPort, parseEgress, parseIngress, type MeshPlan } from './config-annotations.js';
import { AnnotationError } from './errors.js';

export const ENV = {
  ingress: ['CONTRAST_INGRESS_PROXY_CONFIG', 'EDG_INGRESS_PROXY_CONFIG'],
  egress: ['CONTRAST_EGRESS_PROXY_CONFIG', 'EDG_EGRESS_PROXY_CONFIG'],
  admin: ['CONTRAST_ADMIN_PORT', 'EDG_ADMIN_PORT'],
} as const;

/** Whether the egress resumes TLS sessions (default true). */
export const SESSION_RESUMPTION_ENV = 'CONTRAST_MESHPROXY_SESSION_RESUMPTION';

/** Which data path carries ingress and egress connections: the addon's relay or Node's TLS sockets. */
export type DataPath = 'node' | 'native';
export const DATA_PATH_ENV = 'CONTRAST_MESHPROXY_DATA_PATH';
/** Every data path. */
export const DATA_PATHS: readonly DataPath[] = ['node', 'native'];
/** The relay: 1.3-1.5x haproxy's throughput where Node's sockets reach 0.5-1.0x (docs/meshproxy.md, Benchmark). */
export const DEFAULT_DATA_PATH: DataPath = 'native';

/** The CONTRAST_LOG_SUBSYSTEMS names of the meshproxy. */
export const LOG_SUBSYSTEMS: readonly string[] = ['certs', 'ingress', 'egress', 'netfilter'];

/** Mutual-TLS catch-all and TLS-without-client-auth listener ports (upstream constants). */
export const MTLS_PORT = 15006;
export const TLS_PORT = 15007;

/** One explicit-mode ingress listener: `listen` -> TLS per the plan for `appPort` -> 127.0.0.1:appPort. */
export interface ExplicitIngress {
  readonly host: string;
  readonly port: number;
  readonly appPort: number;
}

export interface MeshConfig {
  readonly plan: MeshPlan;
  readonly tlsDir: string;
  readonly readyFile: string;
  readonly mode: 'transparent' | 'explicit';
  readonly explicitIngress: readonly ExplicitIngress[];
  readonly iptables: string;
  readonly ip6tables: string;
  readonly drainTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** OpenSSL groups list for both directions (CONTRAST_TLS_GROUPS, lib/tls-groups.ts). */
  readonly tlsGroups: string;
  /** Unauthenticated (handshaking) connections per listener; undefined: derived from the fd limit. */
  readonly maxPendingHandshakes: number | undefined;
  /** Address of the admin HTTP server (loopback unless configured). */
  readonly adminAddress: string;
  /** After a mesh CA change, how long the previous mesh CA stays trusted too (0: not at all). */
  readonly caGraceMs: number;
  /** Whether the egress resumes TLS sessions (tickets) with its remotes; false: full handshakes only. */
  readonly sessionResumption: boolean;
  /** `node`: Node's tls sockets and streams; `native`: the addon's relay (TLS and the byte pump in C). */
  readonly dataPath: DataPath;
  /** Where unknown-CA failures request a renewal from the initializer (lib/pod-layout.ts). */
  readonly renewalSignalFile: string;
}

/** Parses the annotation variables; each problem is `NAME=value: problem`, egress first (as upstream). */
export function readPlan(env: Env): { plan: MeshPlan; problems: string[] } {
  const r = new EnvReader(env);
  const problems: string[] = [];
  const read = (names: readonly string[]): { value: string; out: string[]; prefix: string } => {
    const found = r.lookup(names);
    return { value: found?.value ?? '', out: [], prefix: found === undefined ? '' : `${found.name}=${found.value}: ` };
  };
  const e = read(ENV.egress);
  const egress = parseEgress(e.value, e.out);
  const i = read(ENV.ingress);
  const ingress = parseIngress(i.value, i.out);
  const a = read(ENV.admin);
  const adminPort = parseAdminPort(a.value, a.out);
  for (const { out, prefix } of [e, i, a]) problems.push(...out.map((p) => prefix + p));
  const plan: MeshPlan = {
    ingress: ingress === 'DISABLED' ? { disabled: true, ports: [] } : { disabled: false, ports: ingress },
    egress,
    adminPort,
  };
  return { plan, problems };
}

/** Reads only the plan; throws AnnotationError listing every problem. */
export function planFromEnv(env: Env): MeshPlan {
  const { plan, problems } = readPlan(env);
  if (problems.length > 0) throw new AnnotationError(problems);
  return plan;
}

export function meshConfigFromEnv(env: Env): MeshConfig {
  const r = new EnvReader(env);
  const { plan, problems } = readPlan(env);
  for (const p of problems) r.problem(p);
  const mode = r.oneOf('CONTRAST_MESHPROXY_MODE', ['transparent', 'explicit'] as const, 'transparent');
  const explicitIngress = parseExplicit(r, env['CONTRAST_MESHPROXY_INGRESS_LISTEN'] ?? '');
  if (mode === 'transparent' && explicitIngress.length > 0) {
    r.problem(
      `CONTRAST_MESHPROXY_INGRESS_LISTEN=${env['CONTRAST_MESHPROXY_INGRESS_LISTEN'] ?? ''}: expected only with CONTRAST_MESHPROXY_MODE=explicit`,
    );
  }
  const tlsDir = r.string('CONTRAST_TLS_DIR', DEFAULT_TLS_DIR);
  const renewalSignalFile = r.string(RENEWAL_SIGNAL_ENV, defaultRenewalSignalFile(tlsDir));
  if (!renewalSignalFile.startsWith('/'))
    r.problem(`${RENEWAL_SIGNAL_ENV}=${renewalSignalFile}: expected an absolute path`);
  return r.finish({
    plan,
    tlsDir,
    readyFile: r.string('CONTRAST_READY_FILE', '/ready'),
    mode,
    explicitIngress,
    iptables: r.string('CONTRAST_IPTABLES', 'iptables-legacy'),
    ip6tables: r.string('CONTRAST_IP6TABLES', 'ip6tables-legacy'),
    drainTimeoutMs: r.duration('CONTRAST_MESHPROXY_DRAIN_TIMEOUT', '10s'),
    connectTimeoutMs: r.duration('CONTRAST_MESHPROXY_CONNECT_TIMEOUT', '5s', { min: 1 }),
    handshakeTimeoutMs: r.duration('CONTRAST_MESHPROXY_HANDSHAKE_TIMEOUT', '10s', { min: 1 }),
    idleTimeoutMs: r.duration('CONTRAST_MESHPROXY_IDLE_TIMEOUT', '1h', { min: 1 }),
    tlsGroups: readTlsGroups(r),
    maxPendingHandshakes: r.integer('CONTRAST_MESHPROXY_MAX_PENDING_HANDSHAKES', { min: 1, max: 1_000_000 }),
    adminAddress: adminAddress(r),
    caGraceMs: r.duration('CONTRAST_MESHPROXY_CA_GRACE', '10m'),
    sessionResumption: r.lookup(SESSION_RESUMPTION_ENV) === undefined ? true : r.flag(SESSION_RESUMPTION_ENV),
    dataPath: dataPath(r),
    renewalSignalFile,
  });
}

function dataPath(r: EnvReader): DataPath {
  const found = r.lookup(DATA_PATH_ENV);
  if (found === undefined) return DEFAULT_DATA_PATH;
  const v = found.value.trim().toLowerCase();
  const match = DATA_PATHS.find((p) => p === v);
  if (match !== undefined) return match;
  r.problem(`${found.name}=${found.value}: expected native or node`);
  return DEFAULT_DATA_PATH;
}

function adminAddress(r: EnvReader): string {
  const found = r.lookup('CONTRAST_MESHPROXY_ADMIN_ADDRESS');
  if (found === undefined) return '127.0.0.1';
  const v = found.value.trim().replace(/^\[(.*)\]$/, '$1');
  if (isIP(v) === 0)
    r.problem(
      `${found.name}=${found.value}: expected an IP address to bind the admin port to, e.g. 127.0.0.1 or 0.0.0.0`,
    );
  return v;
}

/** `host:port=appPort` entries separated by commas; IPv6 hosts in brackets. */
function parseExplicit(r: EnvReader, text: string): ExplicitIngress[] {
  const out: ExplicitIngress[] = [];
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})=(\d{1,5})$/.exec(item);
    const host = m?.[1] ?? m?.[2] ?? '';
    const port = Number(m?.[3]);
    const appPort = Number(m?.[4]);
    if (m === null || isIP(host) === 0 || port < 1 || port > 65535 || appPort < 1 || appPort > 65535) {
      r.problem(
        `CONTRAST_MESHPROXY_INGRESS_LISTEN=${text}: entry ${item}: expected <ip>:<port>=<app port>, e.g. 0.0.0.0:9443=8443`,
      );
      continue;
    }
    out.push({ host, port, appPort });
  }
  return out;
}
