/** When renewal wakes up: expiry fraction, interval jitter, backoff; pure functions, injected time and randomness. */
import test from 'ava';
import { MAX_TIMER_MS } from '../../lib/config.js';
import { backoff, jittered, MAX_BACKOFF_MS, nextCheck, renewalDueAt } from '../../initializer/renewal-schedule.js';

const HOUR = 3_600_000;
const YEAR = 365 * 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);
const leaf = { notBefore: T0, notAfter: T0 + YEAR };
const timing = { intervalMs: HOUR, at: 0.66, retryIntervalMs: 5000 };

test('due at the fraction of the lifetime', (t) => {
  t.is(renewalDueAt(leaf, 0.66), T0 + 0.66 * YEAR);
  t.is(renewalDueAt(leaf, 0.5), T0 + YEAR / 2);
  t.is(renewalDueAt({ notBefore: T0, notAfter: T0 - 1 }, 0.5), T0, 'an inverted validity is due at once');
});

test('jitter only shortens, by at most a fifth', (t) => {
  const rows: [number, number][] = [
    [0, 1000],
    [0.5, 900],
    [0.999999, 800],
    [1, 800],
    [-1, 1000],
    [2, 800],
  ];
  for (const [random, expected] of rows) t.is(jittered(1000, random), expected, `random ${random}`);
});

test('next check: the jittered interval, or expiry when that comes first', (t) => {
  const rows: { name: string; now: number; random: number; delay: number; reason: string }[] = [
    { name: 'fresh leaf, interval first', now: T0, random: 0, delay: HOUR, reason: 'interval' },
    { name: 'jitter shortens the interval', now: T0, random: 0.5, delay: 0.9 * HOUR, reason: 'interval' },
    { name: 'expiry within the interval', now: T0 + 0.66 * YEAR - 60_000, random: 0, delay: 60_000, reason: 'expiry' },
    { name: 'expiry passed: at once', now: T0 + 0.9 * YEAR, random: 0.3, delay: 0, reason: 'expiry' },
  ];
  for (const r of rows)
    t.deepEqual(nextCheck(r.now, leaf, timing, r.random), { delayMs: r.delay, reason: r.reason }, r.name);
});

test('a delay longer than a timer can wait is capped (the loop re-evaluates on waking)', (t) => {
  const long = { ...timing, intervalMs: 10 * YEAR };
  const r = nextCheck(T0, leaf, long, 0);
  t.is(r.delayMs, MAX_TIMER_MS);
  t.is(r.reason, 'expiry');
});

test('backoff doubles from the retry interval up to the cap', (t) => {
  t.deepEqual(
    [1, 2, 3, 4, 5].map((n) => backoff(n, timing, 0)),
    [5000, 10_000, 20_000, 40_000, 80_000],
  );
  t.is(backoff(30, timing, 0), MAX_BACKOFF_MS, 'never above five minutes');
  t.is(backoff(10, { ...timing, intervalMs: 30_000 }, 0), 30_000, 'never above the renewal interval');
  t.is(backoff(10, { ...timing, intervalMs: 1000 }, 0), 5000, 'never below the retry interval');
  t.is(backoff(1, timing, 0.5), 4500, 'jittered like the interval');
  t.is(backoff(0, timing, 0), 5000, 'zero failures count as one');
  t.is(backoff(5000, timing, 0), MAX_BACKOFF_MS, 'no overflow for long outages');
});
