/**
 * Per-listener counters, rendered in the Prometheus text format. Hot paths only increment numbers;
 * byte counts are taken from the sockets when a connection closes.
 */

export class ListenerStats {
  connectionsTotal = 0;
  connectionsActive = 0;
  bytesReceived = 0;
  bytesSent = 0;
  upstreamConnectFailures = 0;
  blackholed = 0;
  sessionsResumed = 0;
  /** Connections accepted and not yet through the TLS handshake (ingress). */
  pendingHandshakes = 0;
  acceptErrors = 0;
  readonly handshakeFailures = new Map<string, number>();
  /** Completed handshakes by negotiated key-exchange group (lib/tls-groups.ts names). */
  readonly handshakeGroups = new Map<string, number>();
  /** Downstream peers refused before they were served, by reason (ingress). */
  readonly refused = new Map<string, number>();

  constructor(
    readonly listener: string,
    readonly direction: 'ingress' | 'egress',
  ) {}

  handshaked(group: string): void {
    this.handshakeGroups.set(group, (this.handshakeGroups.get(group) ?? 0) + 1);
  }

  handshakeFailed(reason: string): void {
    this.handshakeFailures.set(reason, (this.handshakeFailures.get(reason) ?? 0) + 1);
  }

  refusedFor(reason: string): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
  }
}

export class MeshStats {
  private readonly listeners = new Map<string, ListenerStats>();
  certificateReloads = 0;

  listener(name: string, direction: 'ingress' | 'egress'): ListenerStats {
    let s = this.listeners.get(name);
    if (s === undefined) {
      s = new ListenerStats(name, direction);
      this.listeners.set(name, s);
    }
    return s;
  }

  all(): ListenerStats[] {
    return [...this.listeners.values()];
  }

  /** Total active connections over all listeners (used for draining). */
  active(): number {
    let n = 0;
    for (const s of this.listeners.values()) n += s.connectionsActive;
    return n;
  }

  prometheus(): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, rows: [Record<string, string>, number][]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of rows) {
        const l = Object.entries(labels)
          .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`)
          .join(',');
        out.push(`${name}{${l}} ${value}`);
      }
    };
    const per = (f: (s: ListenerStats) => number): [Record<string, string>, number][] =>
      this.all().map((s) => [{ listener: s.listener, direction: s.direction }, f(s)]);
    metric(
      'meshproxy_connections_total',
      'counter',
      'Accepted downstream connections.',
      per((s) => s.connectionsTotal),
    );
    metric(
      'meshproxy_connections_active',
      'gauge',
      'Open downstream sockets (handshaking or served).',
      per((s) => s.connectionsActive),
    );
    metric(
      'meshproxy_pending_handshakes',
      'gauge',
      'Downstream sockets still in the TLS handshake.',
      per((s) => s.pendingHandshakes),
    );
    metric(
      'meshproxy_accept_errors_total',
      'counter',
      'Failed accept() calls (e.g. EMFILE).',
      per((s) => s.acceptErrors),
    );
    metric(
      'meshproxy_received_bytes_total',
      'counter',
      'Bytes received from downstream.',
      per((s) => s.bytesReceived),
    );
    metric(
      'meshproxy_sent_bytes_total',
      'counter',
      'Bytes sent to downstream.',
      per((s) => s.bytesSent),
    );
    metric(
      'meshproxy_upstream_connect_failures_total',
      'counter',
      'Failed upstream connections.',
      per((s) => s.upstreamConnectFailures),
    );
    metric(
      'meshproxy_tls_sessions_resumed_total',
      'counter',
      'TLS handshakes that resumed an earlier session.',
      per((s) => s.sessionsResumed),
    );
    metric(
      'meshproxy_blackholed_total',
      'counter',
      'Connections refused by the loop guard.',
      per((s) => s.blackholed),
    );
    const failures: [Record<string, string>, number][] = [];
    for (const s of this.all())
      for (const [reason, n] of s.handshakeFailures)
        failures.push([{ listener: s.listener, direction: s.direction, reason }, n]);
    metric(
      'meshproxy_tls_handshake_failures_total',
      'counter',
      'Failed TLS handshakes and verifications by reason.',
      failures,
    );
    const groups: [Record<string, string>, number][] = [];
    for (const s of this.all())
      for (const [group, n] of s.handshakeGroups)
        groups.push([{ listener: s.listener, direction: s.direction, group }, n]);
    metric(
      'meshproxy_tls_handshakes_total',
      'counter',
      'Completed TLS handshakes by negotiated key-exchange group.',
      groups,
    );
    const refused: [Record<string, string>, number][] = [];
    for (const s of this.all())
      for (const [reason, n] of s.refused) refused.push([{ listener: s.listener, direction: s.direction, reason }, n]);
    metric('meshproxy_refused_total', 'counter', 'Downstream peers refused before being served, by reason.', refused);
    const mem = process.memoryUsage();
    for (const [name, help, value] of [
      ['process_resident_memory_bytes', 'Resident set size.', mem.rss],
      ['nodejs_heap_used_bytes', 'V8 heap in use.', mem.heapUsed],
      [
        'nodejs_external_memory_bytes',
        'Memory outside the V8 heap held by JavaScript objects (buffers).',
        mem.external,
      ],
    ] as const)
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
    out.push(
      '# HELP meshproxy_certificate_reloads_total Certificate reloads.',
      '# TYPE meshproxy_certificate_reloads_total counter',
      `meshproxy_certificate_reloads_total ${this.certificateReloads}`,
    );
    return out.join('\n') + '\n';
  }
}
