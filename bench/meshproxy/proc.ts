/** Reading the proxies' own cost from /proc, shared by run.ts and probe.ts. */
import { readFile } from 'node:fs/promises';

/** utime + stime of these processes, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
export async function cpuTicks(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += Number(fields[11]) + Number(fields[12]);
  }
  return total;
}
