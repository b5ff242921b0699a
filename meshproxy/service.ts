/**
 * The sidecar's life: certificates loaded, listeners bound, rules installed, the default-deny rule
 * removed, and only then the ready file. SIGTERM (or the given signal) stops accepting, drains for a
 * bounded time, closes what is left and resolves 0.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Server } from 'node:net';
import { closeServer } from '../lib/close-server.js';
import { writeFileAtomic } from '../lib/fs-atomic.js';
import { subsystemLogger, type Logger } from '../lib/log.js';
import { createIptables } from '../lib/netfilter/iptables.js';
import { TransparentSockets, SocketCallError } from '../lib/native/sockets.js';
import { createAdmin } from './admin.js';
import { openCertStore } from './certs.js';
import { MTLS_PORT, TLS_PORT, type MeshConfig } from './config.js';
import { formatHostPort, planToJson } from './config-annotations.js';
import { createEgress } from './egress.js';
import { MeshEvents } from './events.js';
import type { OpenSockets } from './forward.js';
import { createIngress, type IngressListener, type IngressOptions, type IngressRole } from './ingress.js';
import { listenOn, listenTransparent } from './listeners.js';
import { prepareNetfilter } from './netfilter.js';
import { createPlainForwarder } from './plain.js';
import { PROXY_SOCKET_MARK } from './rules.js';
import { createRenewalRequester } from './renewal-request.js';
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
  log.info(
    { version: deps.version, mode: config.mode, plan, ignoredArgs: deps.ignoredArgs },
    'Contrast service-mesh proxy (meshproxy) starting',
  );
  await rm(config.readyFile, { force: true });

  const stats = new MeshStats();
  const open: OpenSockets = new Set();
  const servers: Server[] = [];
  const ingress: IngressListener[] = [];
  const ingressEvents = new MeshEvents(subsystemLogger(log, 'ingress'));
  const egressEvents = new MeshEvents(subsystemLogger(log, 'egress'));
  const maxPendingHandshakes = config.maxPendingHandshakes ?? defaultPendingLimit();
  let ready = false;
  const certs = await openCertStore({
    dir: config.tlsDir,
    groups: config.tlsGroups,
    log: subsystemLogger(log, 'certs'),
    graceMs: config.caGraceMs,
    announce: log,
    onReload: () => {
      stats.certificateReloads += 1;
      for (const i of ingress) i.refresh();
    },
  });
  log.info(
    { dir: config.tlsDir, identity: certs.identity, meshCA: certs.trust.current, caGraceMs: config.caGraceMs },
    'certificates loaded',
  );
  const renewal = createRenewalRequester({ file: config.renewalSignalFile, tlsDir: config.tlsDir, log });

  try {
    const bound = async (server: Server, where: { host: string; port: number }, label: string): Promise<void> => {
      servers.push(server);
      await listenOn(server, where, label);
      log.info({ listener: label, address: formatHostPort(where) }, 'listening');
    };
    const newIngress = (
      role: IngressRole,
      name: string,
      target: IngressOptions['target'],
      guard: ReadonlySet<number>,
    ): IngressListener => {
      const i = createIngress({
        role,
        certs,
        stats: stats.listener(name, 'ingress'),
        events: ingressEvents,
        target,
        loopGuardPorts: guard,
        open,
        renewal,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        maxPendingHandshakes,
        connectTimeoutMs: config.connectTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
        dataPath: config.dataPath,
      });
      ingress.push(i);
      return i;
    };

    let ipv6 = true;
    if (config.mode === 'transparent' && !plan.ingress.disabled) {
      const sockets = deps.sockets ?? new TransparentSockets();
      const guard = new Set([MTLS_PORT, TLS_PORT]);
      const original = (s: {
        localAddress?: string | undefined;
        localPort?: number | undefined;
      }): { host: string; port: number } => ({ host: s.localAddress ?? '', port: s.localPort ?? 0 });
      for (const [role, port, name] of [
        ['mtls', MTLS_PORT, 'ingress'],
        ['tls', TLS_PORT, 'ingressWithoutClientAuth'],
      ] as const) {
        const i = newIngress(role, name, original, guard);
        for (const address of ['0.0.0.0', '::']) {
          if (address === '::' && !ipv6) continue;
          const server = i.newServer();
          servers.push(server);
          try {
            // The mark lets the kernel's rules tell the proxy's sockets from the app's (rules.ts).
            await listenTransparent(server, sockets, address, port, PROXY_SOCKET_MARK);
          } catch (err) {
            const cause = (err as { cause?: unknown }).cause;
            if (address === '::' && cause instanceof SocketCallError && cause.errnoCode === 'EAFNOSUPPORT') {
              log.warn('IPv6 is not available on this host; intercepting IPv4 only');
              ipv6 = false;
              continue;
            }
            throw err;
          }
          log.info(
            {
              listener: name,
              address: `${address.includes(':') ? `[${address}]` : address}:${port}`,
              transparent: true,
              maxPendingHandshakes,
            },
            'listening',
          );
        }
      }
    }
    if (config.mode === 'explicit') {
      for (const e of config.explicitIngress) {
        const mode = plan.ingress.ports.find((p) => p.port === e.appPort)?.mode ?? 'mtls';
        const name = `explicit:${e.port}`;
        const target = { host: '127.0.0.1', port: e.appPort };
        const server =
          mode === 'plain'
            ? createPlainForwarder(target, stats.listener(name, 'ingress'), ingressEvents, config.idleTimeoutMs, open)
            : newIngress(mode === 'tls' ? 'tls' : 'mtls', name, () => target, new Set()).newServer();
        await bound(server, { host: e.host, port: e.port }, `${name} (${mode} -> 127.0.0.1:${e.appPort})`);
      }
    }
    for (const entry of plan.egress) {
      const server = createEgress({
        resumeSessions: config.sessionResumption,
        entry,
        certs,
        stats: stats.listener(entry.name, 'egress'),
        events: egressEvents,
        open,
        renewal,
        connectTimeoutMs: config.connectTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
        dataPath: config.dataPath,
      });
      await bound(server, entry.listen, `egress ${entry.name} -> ${formatHostPort(entry.remote)}`);
    }
    if (plan.adminPort !== null) {
      const admin = createAdmin({
        ready: () => ready,
        stats,
        configDump: () => ({
          version: deps.version,
          plan: planToJson(plan),
          mode: config.mode,
          explicitIngress: config.explicitIngress,
          tlsDir: config.tlsDir,
          adminAddress: config.adminAddress,
          maxPendingHandshakes,
          certificateGeneration: certs.generation,
          trustedMeshCAs: certs.trust,
          caGraceMs: config.caGraceMs,
          dataPath: config.dataPath,
          ipv6,
        }),
      });
      await bound(admin, { host: config.adminAddress, port: plan.adminPort }, 'admin');
    }

    if (config.mode === 'transparent') {
      const env = deps.env ?? process.env;
      const change = await prepareNetfilter(
        config,
        [
          {
            name: 'IPv4',
            variable: 'CONTRAST_IPTABLES',
            iptables: createIptables(config.iptables, env),
            available: true,
          },
          {
            name: 'IPv6',
            variable: 'CONTRAST_IP6TABLES',
            iptables: createIptables(config.ip6tables, env),
            available: ipv6,
          },
        ],
        subsystemLogger(log, 'netfilter'),
      );
      await change.apply();
    } else {
      log.info('explicit mode: no iptables rules, the default-deny rule is left alone');
    }

    await writeFileAtomic(config.readyFile, '', { mode: 0o644, skipIfSame: false });
    ready = true;
    log.info({ readyFile: config.readyFile }, 'ready');

    await stopped(deps.stop);
    ready = false;
    log.info(
      { drainTimeoutMs: config.drainTimeoutMs, active: stats.active() },
      'stopping: no new connections, draining',
    );
  } finally {
    // Stop accepting at once; close callbacks come only when the last connection of a server is gone.
    const closed = Promise.all(servers.map(closeServer));
    // Connections still in their handshake are strangers so far: not worth waiting for long.
    for (const i of ingress) i.shortenPending();
    log.info({ active: stats.active() }, 'listeners closed, draining');
    await drain(stats, config.drainTimeoutMs);
    for (const s of open) s.destroy();
    certs.close();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 1000).unref())]);
  }
  log.info('stopped');
  return 0;
}

/**
 * Per listener: 1024 handshaking connections, but at most an eighth of the open-file limit, so that
 * strangers on both TLS listeners and both address families leave most descriptors to mesh clients.
 */
function defaultPendingLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    const soft = m?.[1] === undefined || m[1] === 'unlimited' ? Infinity : Number(m[1]);
    return Math.max(16, Math.min(1024, Math.floor(soft / 8)));
  } catch {
    return 1024;
  }
}

function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal !== undefined) {
      if (signal.aborted) resolve();
      else
        signal.addEventListener(
          'abort',
          () => {
            resolve();
          },
          { once: true },
        );
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
