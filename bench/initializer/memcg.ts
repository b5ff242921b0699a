/**
 * A memory cgroup for one benchmark peer: v1 (`/sys/fs/cgroup/memory/<name>`) or v2
 * (`/sys/fs/cgroup/<name>`, where the host has the unified hierarchy). Needs root. A process joins it
 * through `wrap()`, a `/bin/sh` that writes its own pid into the group and then execs the command, so
 * the program's first page is already charged to the group.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCounters {
  /** Highest usage since the last reset (v1 memory.max_usage_in_bytes, v2 memory.peak), bytes. */
  readonly peakBytes: number;
  /** Times the usage hit the limit (v1 memory.failcnt, v2 memory.events `max`). */
  readonly failcnt: number;
  /** OOM kills in the group (v1 memory.oom_control `oom_kill`, v2 memory.events `oom_kill`). */
  readonly oomKills: number;
}

export interface MemoryCgroup {
  readonly path: string;
  readonly version: 1 | 2;
  /** argv that runs `argv` inside the group. */
  wrap(argv: readonly string[]): string[];
  /** Zeroes the peak and failure counters where the kernel allows; returns the counters to diff against. */
  reset(): MemoryCounters;
  read(): MemoryCounters;
  remove(): void;
}

const V1_ROOT = '/sys/fs/cgroup/memory';
const V2_ROOT = '/sys/fs/cgroup';

function num(text: string): number {
  return Number(text.trim());
}

function field(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m?.[1] === undefined ? 0 : Number(m[1]);
}

/** The hierarchy this host has: v1's memory controller mount, else v2's unified one, else none. */
export function memoryCgroupVersion(): 1 | 2 | undefined {
  if (existsSync(join(V1_ROOT, 'memory.limit_in_bytes'))) return 1;
  if (
    existsSync(join(V2_ROOT, 'cgroup.controllers')) &&
    readFileSync(join(V2_ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')
  )
    return 2;
  return undefined;
}

/** Creates the group `name` with `limitBytes` (undefined: no limit, for the unlimited peers' counters). */
export function createMemoryCgroup(name: string, limitBytes: number | undefined): MemoryCgroup {
  const version = memoryCgroupVersion();
  if (version === undefined)
    throw new Error(
      'no memory cgroup controller: expected /sys/fs/cgroup/memory (v1) or memory in /sys/fs/cgroup/cgroup.controllers (v2)',
    );
  const path = join(version === 1 ? V1_ROOT : V2_ROOT, name);
  if (version === 2) {
    // The memory controller must be enabled for the root's children.
    const sub = join(V2_ROOT, 'cgroup.subtree_control');
    if (!readFileSync(sub, 'utf8').split(/\s+/).includes('memory')) writeFileSync(sub, '+memory');
  }
  mkdirSync(path);
  const file = (f: string): string => join(path, f);
  if (version === 1) {
    if (limitBytes !== undefined) writeFileSync(file('memory.limit_in_bytes'), String(limitBytes));
  } else {
    writeFileSync(file('memory.max'), limitBytes === undefined ? 'max' : String(limitBytes));
    if (existsSync(file('memory.swap.max'))) writeFileSync(file('memory.swap.max'), '0');
  }
  const read = (): MemoryCounters => {
    if (version === 1) {
      return {
        peakBytes: num(readFileSync(file('memory.max_usage_in_bytes'), 'utf8')),
        failcnt: num(readFileSync(file('memory.failcnt'), 'utf8')),
        oomKills: field(readFileSync(file('memory.oom_control'), 'utf8'), 'oom_kill'),
      };
    }
    const events = readFileSync(file('memory.events'), 'utf8');
    return {
      peakBytes: existsSync(file('memory.peak')) ? num(readFileSync(file('memory.peak'), 'utf8')) : NaN,
      failcnt: field(events, 'max'),
      oomKills: field(events, 'oom_kill'),
    };
  };
  return {
    path,
    version,
    wrap: (argv) => ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', file('cgroup.procs'), ...argv],
    reset() {
      if (version === 1) {
        writeFileSync(file('memory.max_usage_in_bytes'), '0');
        writeFileSync(file('memory.failcnt'), '0');
      } else {
        // Writable since Linux 6.12 (resets the peak for this file descriptor's readers only on some
        // kernels): differences against the returned counters stay correct either way for failcnt/OOM.
        try {
          writeFileSync(file('memory.peak'), 'reset');
        } catch {
          /* older kernel: the peak is the group's lifetime peak */
        }
      }
      return read();
    },
    read,
    remove() {
      try {
        rmdirSync(path);
      } catch {
        /* a straggler still inside: left for the operator, named in the output */
      }
    },
  };
}
