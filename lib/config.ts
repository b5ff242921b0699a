/**
 * Reading configuration at the edge: every field is parsed, all problems are collected, and one
 * ConfigError lists them as `NAME=value: expected ...`. The result is a frozen, typed object.
 */
import { ConfigError } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The longest delay a Node.js timer honours: 2^31-1 ms (about 24.8 days). A larger value makes
 * setTimeout fire after 1 ms, so every duration read here is capped at it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Parses `500ms`, `5s`, `1m30s`, `2h` (Go-style, no sign) into milliseconds; undefined when invalid. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  if (s === '0') return 0;
  const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (m === null) return undefined;
    total += Number(m[1]) * (unitMs[m[2] ?? ''] ?? NaN);
    pos = re.lastIndex;
  }
  return Number.isFinite(total) ? total : undefined;
}

/**
 * Collects problems while reading variables from an injected environment.
 * Names may be given as a list: the first one set wins (current name first, legacy names after).
 */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  /** The raw value and the name it was found under, or undefined when none is set (empty counts as unset). */
  lookup(names: string | readonly string[]): { name: string; value: string } | undefined {
    for (const name of typeof names === 'string' ? [names] : names) {
      const value = this.env[name];
      if (value !== undefined && value !== '') return { name, value };
    }
    return undefined;
  }

  string(names: string | readonly string[], fallback: string): string {
    return this.lookup(names)?.value ?? fallback;
  }

  required(names: string | readonly string[], what: string): string {
    const found = this.lookup(names);
    if (found !== undefined) return found.value;
    this.problems.push(`${first(names)} is not set: expected ${what}`);
    return '';
  }

  optional(names: string | readonly string[]): string | undefined {
    return this.lookup(names)?.value;
  }

  flag(names: string | readonly string[]): boolean {
    const found = this.lookup(names);
    if (found === undefined) return false;
    const v = found.value.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    this.problems.push(`${found.name}=${found.value}: expected a boolean (1, true, 0, false)`);
    return false;
  }

  /**
   * Duration in milliseconds, from `opts.min` (default 0) to `opts.max` (default and at most
   * MAX_TIMER_MS, the largest delay a timer can wait).
   */
  duration(names: string | readonly string[], fallback: string, opts: { min?: number; max?: number } = {}): number {
    const found = this.lookup(names);
    const text = found?.value ?? fallback;
    const ms = parseDuration(text);
    const max = Math.min(opts.max ?? MAX_TIMER_MS, MAX_TIMER_MS);
    if (ms === undefined || ms < (opts.min ?? 0)) {
      this.problems.push(
        `${found?.name ?? first(names)}=${text}: expected a duration such as 500ms, 5s or 1m30s${opts.min !== undefined ? ` of at least ${opts.min}ms` : ''}`,
      );
      return parseDuration(fallback) ?? 0;
    }
    if (ms > max) {
      this.problems.push(
        `${found?.name ?? first(names)}=${text}: expected a duration of at most ${formatMs(max)} (${max}ms)${max === MAX_TIMER_MS ? ', the longest a timer can wait' : ''}`,
      );
      return Math.min(parseDuration(fallback) ?? 0, max);
    }
    return ms;
  }

  oneOf<T extends string>(names: string | readonly string[], allowed: readonly T[], fallback: T): T {
    const found = this.lookup(names);
    if (found === undefined) return fallback;
    const v = found.value.trim().toLowerCase();
    const match = allowed.find((a) => a.toLowerCase() === v);
    if (match !== undefined) return match;
    this.problems.push(`${found.name}=${found.value}: expected one of ${allowed.join(', ')}`);
    return fallback;
  }

  /** Integer in [min, max]. */
  integer(names: string | readonly string[], range: { min: number; max: number }): number | undefined {
    const found = this.lookup(names);
    if (found === undefined) return undefined;
    const n = /^\d+$/.test(found.value.trim()) ? Number(found.value.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
      this.problems.push(`${found.name}=${found.value}: expected an integer from ${range.min} to ${range.max}`);
      return undefined;
    }
    return n;
  }

  /** Records a problem found by a caller's own check. */
  problem(text: string): void {
    this.problems.push(text);
  }

  /** Throws a ConfigError with every collected problem, or returns the frozen value. */
  finish<T extends object>(value: T): Readonly<T> {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
    return Object.freeze(value);
  }
}

function first(names: string | readonly string[]): string {
  return typeof names === 'string' ? names : (names[0] ?? '');
}

/** `596h31m23.647s`-style rendering of a millisecond count, for messages. */
function formatMs(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 || (h === 0 && m === 0) ? `${s}s` : ''}`;
}
