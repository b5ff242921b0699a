/**
 * Runs named peers interleaved (A B A B ...), each run a fresh process, and prints a table with the
 * median, the 10th-90th percentile spread and each peer's ratio to the first (the baseline). A run may
 * also report the time its peer (the Coordinator) spent working for it; the table then shows that and
 * the run's time without it, with its own ratio; and the process's own CPU time with its ratio.
 */
export interface RunResult {
  /** Wall milliseconds from spawn to done. */
  readonly ms: number;
  /** Milliseconds of that spent by the peer serving this run (Coordinator CPU time), if known. */
  readonly peerMs?: number;
  /** CPU milliseconds (user + system, all threads) the measured process reported for itself, if known. */
  readonly cpuMs?: number;
}

export interface Peer {
  readonly name: string;
  /** One run in a fresh process. */
  run(): Promise<RunResult>;
}

interface Spread {
  readonly median: number;
  readonly p10: number;
  readonly p90: number;
}

export interface PeerStats extends Spread {
  readonly name: string;
  readonly samples: number[];
  /** Peer time and wall time minus peer time, when the runs report peer time. */
  readonly peer?: Spread;
  readonly own?: Spread;
  /** The process's own CPU time, when the runs report it. */
  readonly cpu?: Spread;
}

function spread(values: readonly number[]): Spread & { sorted: number[] } {
  const sorted = [...values].sort((a, b) => a - b);
  return { sorted, median: quantile(sorted, 0.5), p10: quantile(sorted, 0.1), p90: quantile(sorted, 0.9) };
}

export async function interleave(peers: readonly Peer[], rounds: number, warmup = 2): Promise<PeerStats[]> {
  const samples = peers.map(() => [] as RunResult[]);
  for (let r = -warmup; r < rounds; r++) {
    // Alternate the order so that neither peer always runs right after the other.
    const order = r % 2 === 0 ? peers.map((_, i) => i) : peers.map((_, i) => peers.length - 1 - i);
    for (const i of order) {
      const result = await peers[i]!.run();
      if (r >= 0) samples[i]!.push(result);
    }
  }
  return peers.map((p, i) => {
    const runs = samples[i]!;
    const wall = spread(runs.map((x) => x.ms));
    const withPeer = runs.every((x) => x.peerMs !== undefined) && runs.length > 0;
    const withCpu = runs.every((x) => x.cpuMs !== undefined) && runs.length > 0;
    return {
      name: p.name,
      samples: wall.sorted,
      median: wall.median,
      p10: wall.p10,
      p90: wall.p90,
      ...(withPeer
        ? { peer: spread(runs.map((x) => x.peerMs ?? 0)), own: spread(runs.map((x) => x.ms - (x.peerMs ?? 0))) }
        : {}),
      ...(withCpu ? { cpu: spread(runs.map((x) => x.cpuMs ?? 0)) } : {}),
    };
  });
}

export function formatTable(stats: readonly PeerStats[]): string {
  const base = stats[0]?.median ?? NaN;
  const cpuBase = stats[0]?.cpu?.median ?? NaN;
  const range = (s: Spread): string => `${s.p10.toFixed(1)}–${s.p90.toFixed(1)}`;
  const rows = stats.map((s) => [
    s.name,
    s.median.toFixed(1),
    range(s),
    (s.median / base).toFixed(2) + 'x',
    s.peer === undefined ? '–' : s.peer.median.toFixed(1),
    s.own === undefined ? '–' : `${s.own.median.toFixed(1)} (${range(s.own)})`,
    s.own === undefined ? (s.median / base).toFixed(2) + 'x' : (s.own.median / base).toFixed(2) + 'x',
    s.cpu === undefined ? '–' : s.cpu.median.toFixed(1),
    s.cpu === undefined ? '–' : (s.cpu.median / cpuBase).toFixed(2) + 'x',
  ]);
  const header = [
    'peer',
    'median ms',
    'p10–p90 ms',
    `ratio to ${stats[0]?.name ?? ''}`,
    'Coordinator CPU ms',
    'without Coordinator ms',
    'ratio without',
    'own CPU ms',
    'CPU ratio',
  ];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]): string => '| ' + cells.map((x, c) => x.padEnd(widths[c]!)).join(' | ') + ' |';
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
