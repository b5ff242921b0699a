/** The machine's load while a benchmark runs: load average, and CPU steal (a VM's lost time) over a span. */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';

/** The three load averages of /proc/loadavg, as text. */
export async function loadAverage(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

function cpuTimes(): { steal: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  return { steal: fields[7] ?? 0, total: fields.slice(0, 8).reduce((a, b) => a + b, 0) };
}

/** Starts counting; `stop()` gives the share of all CPU time that was stolen since, in percent. */
export async function stealPercent(): Promise<{ stop(): number }> {
  const start = cpuTimes();
  return Promise.resolve({
    stop() {
      const end = cpuTimes();
      return (100 * (end.steal - start.steal)) / Math.max(1, end.total - start.total);
    },
  });
}
