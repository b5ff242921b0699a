/**
 * Runs named peers interleaved (A B A B ...), each run a fresh process, and prints a table with the
 * median, the 10th-90th percentile spread and each peer's ratio to the first (the baseline).
 */
export interface Peer {
  readonly name: string;
  /** One run in a fresh process; resolves with the measured milliseconds. */
  run(): Promise<number>;
}

export interface PeerStats {
  readonly name: string;
  readonly samples: number[];
  readonly median: number;
  readonly p10: number;
  readonly p90: number;
}

export async function interleave(peers: readonly Peer[], rounds: number, warmup = 2): Promise<PeerStats[]> {
  const samples = peers.map(() => [] as number[]);
  for (let r = -warmup; r < rounds; r++) {
    // Alternate the order so that neither peer always runs right after the other.
    const order = r % 2 === 0 ? peers.map((_, i) => i) : peers.map((_, i) => peers.length - 1 - i);
    for (const i of order) {
      const ms = await peers[i]!.run();
      if (r >= 0) samples[i]!.push(ms);
    }
  }
  return peers.map((p, i) => {
    const s = [...samples[i]!].sort((a, b) => a - b);
    return { name: p.name, samples: s, median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9) };
  });
}

export function formatTable(stats: readonly PeerStats[]): string {
  const base = stats[0]?.median ?? NaN;
  const rows = stats.map((s) => [s.name, s.median.toFixed(1), `${s.p10.toFixed(1)}–${s.p90.toFixed(1)}`, (s.median / base).toFixed(2) + 'x']);
  const header = ['peer', 'median ms', 'p10–p90 ms', `ratio to ${stats[0]?.name ?? ''}`];
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
