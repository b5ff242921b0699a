/**
 * The annotation grammar of Contrast's service mesh (servicemesh-ingress, servicemesh-egress,
 * servicemesh-admin-interface-port), parsed into a plan.
 *
 * Upstream's error texts are kept (`invalid entry: ...`, `invalid listen port: ...`, ...). Where upstream
 * silently misbehaves we are stricter, and each problem names its entry: ports outside 1..65535 (no
 * uint16 wrap-around), empty egress names or remote hosts, duplicate ingress ports, duplicate egress
 * names or listen addresses.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { AnnotationError } from './errors.js';

/** `tls`: TLS without client authentication (15007); `plain`: not intercepted. Unlisted ports are mutual TLS. */
export type PortMode = 'tls' | 'plain';

export interface IngressPort {
  readonly name: string;
  readonly port: number;
  readonly mode: PortMode;
}

/** A parsed address: an IP or DNS name (IPv6 without brackets) and a port. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface EgressEntry {
  readonly name: string;
  /** A 127/8 address and a port 1..65535. */
  readonly listen: HostPort;
  /** A DNS name or an IP address and a port 1..65535. */
  readonly remote: HostPort;
}

export interface MeshPlan {
  readonly ingress: { readonly disabled: boolean; readonly ports: readonly IngressPort[] };
  readonly egress: readonly EgressEntry[];
  readonly adminPort: number | null;
}

/** The plan as --print-config and the admin's /config_dump show it: addresses as `host:port`. */
export interface MeshPlanJson {
  readonly ingress: { readonly disabled: boolean; readonly ports: readonly IngressPort[] };
  readonly egress: readonly { readonly name: string; readonly listen: string; readonly remote: string }[];
  readonly adminPort: number | null;
}

/** `host:port`, IPv6 hosts in brackets. */
export function formatHostPort(address: HostPort): string {
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

export function planToJson(plan: MeshPlan): MeshPlanJson {
  return {
    ingress: plan.ingress,
    egress: plan.egress.map((e) => ({
      name: e.name,
      listen: formatHostPort(e.listen),
      remote: formatHostPort(e.remote),
    })),
    adminPort: plan.adminPort,
  };
}

export interface AnnotationValues {
  readonly ingress: string;
  readonly egress: string;
  readonly admin: string;
}

const GO_BOOL: Readonly<Record<string, boolean>> = {
  '1': true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

/** Go strconv.Atoi syntax: optional sign, decimal digits only. */
function atoi(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

function inPortRange(n: number): boolean {
  return n >= 1 && n <= 65535;
}

/** Splits on `##` and drops empty pieces. */
function pieces(value: string): string[] {
  return value.split('##').filter((p) => p !== '');
}

export function parseIngress(value: string, problems: string[]): IngressPort[] | 'DISABLED' {
  if (value === 'DISABLED') return 'DISABLED';
  const out: IngressPort[] = [];
  const seen = new Map<number, string>();
  for (const piece of pieces(value)) {
    const fields = piece.split('#');
    const [name, portText, tlsText] = fields;
    if (fields.length !== 3 || name === undefined || portText === undefined || tlsText === undefined) {
      problems.push(`invalid entry: ${piece}`);
      continue;
    }
    const port = atoi(portText);
    const disableTLS = Object.hasOwn(GO_BOOL, tlsText) ? GO_BOOL[tlsText] : undefined;
    if (port === undefined) problems.push(`invalid listen port: ${portText}`);
    else if (!inPortRange(port))
      problems.push(`ingress entry ${piece}: listen port ${portText} is out of range, expected 1 to 65535`);
    if (disableTLS === undefined) problems.push(`invalid disable TLS: ${tlsText}`);
    if (port === undefined || !inPortRange(port) || disableTLS === undefined) continue;
    const previous = seen.get(port);
    if (previous !== undefined) {
      problems.push(`ingress entry ${piece}: port ${port} is already listed by entry ${previous}`);
      continue;
    }
    seen.set(port, piece);
    out.push({ name, port, mode: disableTLS ? 'plain' : 'tls' });
  }
  return out;
}

/** Go net.SplitHostPort: `host:port` or `[host]:port`; undefined when the shape is wrong. */
function splitHostPort(text: string): { host: string; port: string } | undefined {
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0 || text[end + 1] !== ':') return undefined;
    const host = text.slice(1, end);
    const port = text.slice(end + 2);
    if (port.includes(':') || port.includes('[') || port.includes(']') || host.includes('[')) return undefined;
    return { host, port };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return undefined;
  const host = text.slice(0, colon);
  if (host.includes(':') || host.includes('[') || host.includes(']')) return undefined;
  const port = text.slice(colon + 1);
  if (port.includes('[') || port.includes(']')) return undefined;
  return { host, port };
}

/** Go netip.ParseAddrPort for the listen field: an IP (IPv6 in brackets) and a decimal port 0..65535. */
function parseListen(text: string): { ip: string; v4: boolean; port: number } | undefined {
  const hp = splitHostPort(text);
  if (hp === undefined) return undefined;
  const bracketed = text.startsWith('[');
  if (!/^\d{1,5}$/.test(hp.port) || Number(hp.port) > 65535) return undefined;
  const port = Number(hp.port);
  if (!bracketed && isIPv4(hp.host) && !/(^|\.)0\d/.test(hp.host)) return { ip: hp.host, v4: true, port };
  if (bracketed && isIPv6(hp.host.split('%')[0] ?? '')) return { ip: hp.host, v4: false, port };
  return undefined;
}

export function parseEgress(value: string, problems: string[]): EgressEntry[] {
  const out: EgressEntry[] = [];
  const names = new Map<string, string>();
  const listens = new Map<string, string>();
  for (const piece of pieces(value)) {
    const fields = piece.split('#');
    const [name, listenText, remoteText] = fields;
    if (fields.length !== 3 || name === undefined || listenText === undefined || remoteText === undefined) {
      problems.push(`invalid entry: ${piece}`);
      continue;
    }
    const before = problems.length;
    const listen = parseListen(listenText);
    if (listen === undefined) problems.push(`invalid listen address: ${listenText}`);
    else if (!listen.v4) problems.push(`listen address ${listen.ip} is not in local CIDR 127.0.0.1/8`);
    else if (!listen.ip.startsWith('127.'))
      problems.push(`listen address ${listen.ip} is not in local CIDR 127.0.0.1/8`);
    else if (listen.port === 0)
      problems.push(`egress entry ${piece}: listen port 0 is out of range, expected 1 to 65535`);
    const remote = splitHostPort(remoteText);
    let remotePort = 0;
    if (remote === undefined) problems.push(`invalid remote domain: ${remoteText}`);
    else {
      const port = atoi(remote.port);
      remotePort = port ?? 0;
      if (port === undefined) problems.push(`invalid remote port: ${remote.port}`);
      else if (!inPortRange(port))
        problems.push(`egress entry ${piece}: remote port ${remote.port} is out of range, expected 1 to 65535`);
      if (remote.host === '')
        problems.push(`egress entry ${piece}: remote host is empty, expected a DNS name or an IP address`);
      else if (!validHost(remote.host, remoteText.startsWith('[')))
        problems.push(`egress entry ${piece}: remote host ${remote.host} is not a DNS name or an IP address`);
    }
    if (name === '') problems.push(`egress entry ${piece}: name is empty`);
    else if (names.has(name))
      problems.push(`egress entry ${piece}: name ${name} is already used by entry ${names.get(name) ?? ''}`);
    if (listen !== undefined && listens.has(listenText))
      problems.push(
        `egress entry ${piece}: listen address ${listenText} is already used by entry ${listens.get(listenText) ?? ''}`,
      );
    if (problems.length !== before || listen === undefined || remote === undefined) continue;
    names.set(name, piece);
    listens.set(listenText, piece);
    // The remote port is normalised (`+080` -> 80), so that the plan is printed as it is dialled.
    out.push({ name, listen: { host: listen.ip, port: listen.port }, remote: { host: remote.host, port: remotePort } });
  }
  return out;
}

/** A DNS name (letters, digits, `-`, `_`, dots), an IPv4 address, or a bracketed IPv6 address. */
function validHost(host: string, bracketed: boolean): boolean {
  if (bracketed) return isIPv6(host);
  return (
    isIPv4(host) ||
    /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(host)
  );
}

export function parseAdminPort(value: string, problems: string[]): number | null {
  if (value === '') return null;
  const n = atoi(value);
  if (n === undefined) {
    problems.push(`invalid admin port: ${value}`);
    return null;
  }
  if (n === 0) return null;
  if (!inPortRange(n)) {
    problems.push(`admin port ${value} is out of range, expected 1 to 65535`);
    return null;
  }
  return n;
}

/** Parses the three values; throws one AnnotationError listing every problem (egress problems first). */
export function parseAnnotations(values: AnnotationValues): MeshPlan {
  const egressProblems: string[] = [];
  const ingressProblems: string[] = [];
  const adminProblems: string[] = [];
  const egress = parseEgress(values.egress, egressProblems);
  const ingress = parseIngress(values.ingress, ingressProblems);
  const adminPort = parseAdminPort(values.admin, adminProblems);
  const problems = [...egressProblems, ...ingressProblems, ...adminProblems];
  if (problems.length > 0) throw new AnnotationError(problems);
  return {
    ingress: ingress === 'DISABLED' ? { disabled: true, ports: [] } : { disabled: false, ports: ingress },
    egress,
    adminPort,
  };
}
