/**
 * The sidecar's life: certificates loaded, listeners bound, rules installed, the default-deny rule
 * removed, and only then the ready file. SIGTERM (or the given signal) stops accepting, drains for a
 * bounded time, closes what is left and resolves 0.
 */
import { rm } from 'node:fs/promises';
import type { Server } from 'node:net';
import { describeError } from '../lib/errors.js';
import { writeFileAtomic } from '../lib/fs-atomic.js';
import { subsystemLogger, type Logger } from '../lib/log.js';
import { createIptables, type Iptables } from '../lib/netfilter/iptables.js';
import { removeDefaultDeny } from '../lib/netfilter/default-deny.js';
import { TransparentSockets, SocketCallError } from '../lib/native/sockets.js';
import { createAdmin } from './admin.js';
import { openCertStore } from './certs.js';
import { MTLS_PORT, TLS_PORT, type MeshConfig } from './config.js';
import { createEgress } from './egress.js';
import type { OpenSockets } from './forward.js';
import { createIngress, type IngressListener, type IngressOptions, type IngressRole } from './ingress.js';
import { closeServer, listenOn, listenTransparent } from './listeners.js';
import { createPlainForwarder } from './plain.js';
import { createRenewalRequester } from './renewal-request.js';
import { installIngressRules, removeIngressRules } from './rules.js';
import { MeshStats } from './stats.js';

export interface MeshproxyDeps {
  readonly log: Logger;
  readonly version: string;
  readonly ignoredArgs: readonly string[];
  /** Ends the sidecar like SIGTERM (tests); default: SIGTERM and SIGINT. */
  readonly stop?: AbortSignal;
  readonly sockets?: TransparentSockets;
  readonly env?: NodeJS.ProcessEnv;
}

export async function runMeshproxy(config: MeshConfig, deps: MeshproxyDeps): Promise<number> {
  const { log } = deps;
  const { plan } = config;
  log.info({ version: deps.version, mode: config.mode, plan, ignoredArgs: deps.ignoredArgs }, 'Contrast service-mesh proxy (meshproxy) starting');
  await rm(config.readyFile, { force: true });

  const stats = new MeshStats();
  const open: OpenSockets = new Set();
  const servers: Server[] = [];
  const ingress: IngressListener[] = [];
  let ready = false;
  const certs = await openCertStore({
    dir: config.tlsDir,
    log: subsystemLogger(log, 'certs'),
    graceMs: config.caGraceMs,
    announce: log,
    onReload: () => {
      stats.certificateReloads += 1;
      for (const i of ingress) i.refresh();
    },
  });
  log.info({ dir: config.tlsDir, identity: certs.identity, meshCA: certs.trust.current, caGraceMs: config.caGraceMs }, 'certificates loaded');
  const renewal = createRenewalRequester({ file: config.renewalSignalFile, tlsDir: config.tlsDir, log });

  try {
    const bound = async (server: Server, where: { host: string; port: number }, label: string): Promise<void> => {
      servers.push(server);
      await listenOn(server, where, label);
      log.info({ listener: label, address: `${where.host}:${where.port}` }, 'listening');
    };
    const newIngress = (role: IngressRole, name: string, target: IngressOptions['target'], guard: ReadonlySet<number>): IngressListener => {
      const i = createIngress({
        role, certs, stats: stats.listener(name, 'ingress'), log: subsystemLogger(log, 'ingress'), target, loopGuardPorts: guard, open, renewal,
        handshakeTimeoutMs: config.handshakeTimeoutMs, connectTimeoutMs: config.connectTimeoutMs, idleTimeoutMs: config.idleTimeoutMs,
      });
      ingress.push(i);
      return i;
    };

    let ipv6 = true;
    if (config.mode === 'transparent' && !plan.ingress.disabled) {
      const sockets = deps.sockets ?? new TransparentSockets();
      const guard = new Set([MTLS_PORT, TLS_PORT]);
      const original = (s: { localAddress?: string | undefined; localPort?: number | undefined }): { host: string; port: number } => ({ host: s.localAddress ?? '', port: s.localPort ?? 0 });
      for (const [role, port, name] of [['mtls', MTLS_PORT, 'ingress'], ['tls', TLS_PORT, 'ingressWithoutClientAuth']] as const) {
        const i = newIngress(role, name, original, guard);
        for (const address of ['0.0.0.0', '::']) {
          if (address === '::' && !ipv6) continue;
          const server = i.newServer();
          servers.push(server);
          try {
            await listenTransparent(server, sockets, address, port);
          } catch (err) {
            const cause = (err as { cause?: unknown }).cause;
            if (address === '::' && cause instanceof SocketCallError && cause.errnoCode === 'EAFNOSUPPORT') {
              log.warn('IPv6 is not available on this host; intercepting IPv4 only');
              ipv6 = false;
              continue;
            }
            throw err;
          }
          log.info({ listener: name, address: `${address.includes(':') ? `[${address}]` : address}:${port}`, transparent: true }, 'listening');
        }
      }
    }
    if (config.mode === 'explicit') {
      for (const e of config.explicitIngress) {
        const mode = plan.ingress.ports.find((p) => p.port === e.appPort)?.mode ?? 'mtls';
        const name = `explicit:${e.port}`;
        const target = { host: '127.0.0.1', port: e.appPort };
        const server = mode === 'plain'
          ? createPlainForwarder(target, stats.listener(name, 'ingress'), config.idleTimeoutMs, open)
          : newIngress(mode === 'tls' ? 'tls' : 'mtls', name, () => target, new Set()).newServer();
        await bound(server, { host: e.host, port: e.port }, `${name} (${mode} -> 127.0.0.1:${e.appPort})`);
      }
    }
    for (const entry of plan.egress) {
      const server = createEgress({
        entry, certs, stats: stats.listener(entry.name, 'egress'), log: subsystemLogger(log, 'egress'), open, renewal,
        connectTimeoutMs: config.connectTimeoutMs, idleTimeoutMs: config.idleTimeoutMs,
      });
      const [host, port] = [entry.listen.slice(0, entry.listen.lastIndexOf(':')), Number(entry.listen.slice(entry.listen.lastIndexOf(':') + 1))];
      await bound(server, { host, port }, `egress ${entry.name} -> ${entry.remote}`);
    }
    if (plan.adminPort !== null) {
      const admin = createAdmin({
        ready: () => ready,
        stats,
        configDump: () => ({ version: deps.version, plan, mode: config.mode, explicitIngress: config.explicitIngress, tlsDir: config.tlsDir, certificateGeneration: certs.generation, trustedMeshCAs: certs.trust, caGraceMs: config.caGraceMs, ipv6 }),
      });
      await bound(admin, { host: '0.0.0.0', port: plan.adminPort }, 'admin');
    }

    if (config.mode === 'transparent') {
      const env = deps.env ?? process.env;
      await applyNetfilter(createIptables(config.iptables, env), config, 'IPv4', true, log);
      await applyNetfilter(createIptables(config.ip6tables, env), config, 'IPv6', ipv6, log);
    } else {
      log.info('explicit mode: no iptables rules, the default-deny rule is left alone');
    }

    await writeFileAtomic(config.readyFile, '', { mode: 0o644, skipIfSame: false });
    ready = true;
    log.info({ readyFile: config.readyFile }, 'ready');

    await stopped(deps.stop);
    ready = false;
    log.info({ drainTimeoutMs: config.drainTimeoutMs, active: stats.active() }, 'stopping: no new connections, draining');
  } finally {
    // Stop accepting at once; close callbacks come only when the last connection of a server is gone.
    const closed = Promise.all(servers.map(closeServer));
    await drain(stats, config.drainTimeoutMs);
    for (const s of open) s.destroy();
    certs.close();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 1000).unref())]);
  }
  log.info('stopped');
  return 0;
}

/** Rules first, then the default-deny rule, so inbound traffic is always either dropped or intercepted. */
async function applyNetfilter(iptables: Iptables, config: MeshConfig, family: string, available: boolean, log: Logger): Promise<void> {
  const nlog = subsystemLogger(log, 'netfilter');
  if (!config.plan.ingress.disabled) {
    if (!available) return;
    await installIngressRules(iptables, config.plan);
    nlog.info({ iptables: iptables.binary, family }, 'ingress interception rules installed');
  } else {
    try {
      if (await removeIngressRules(iptables)) nlog.info({ iptables: iptables.binary, family }, 'ingress DISABLED: removed interception rules of an earlier run');
    } catch (err) {
      if (family === 'IPv4') throw err;
      nlog.warn({ iptables: iptables.binary, err: describeError(err) }, 'IPv6 rules could not be checked');
    }
  }
  try {
    await removeDefaultDeny(iptables, nlog);
  } catch (err) {
    // IPv4 is where the pod VM installs the rule; without ip6tables there is no IPv6 rule to remove.
    if (family === 'IPv4' || available) throw err;
    nlog.warn({ iptables: iptables.binary, err: describeError(err) }, 'IPv6 default-deny rule could not be checked');
  }
}

function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal !== undefined) {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => { resolve(); }, { once: true });
      return;
    }
    const done = (): void => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      resolve();
    };
    process.on('SIGTERM', done);
    process.on('SIGINT', done);
  });
}

async function drain(stats: MeshStats, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (stats.active() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}
