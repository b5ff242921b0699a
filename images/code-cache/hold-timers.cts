/**
 * Training runs only (the loader installs this when CONTRAST_CODE_CACHE_OUT is set): holds timer
 * callbacks until the code cache is written, so that the cache does not depend on how fast the build
 * machine is.
 *
 * What a code cache holds is every function compiled by the program's checkpoint. A timeout that
 * fires before the checkpoint compiles its callback (and what that calls): grpc-js's 250 ms
 * connection-delay timer and its 1 s back-off timers, the attempt and handshake timeouts. On an idle
 * machine none of them fires before the initializer has its answer; on a loaded one (a 2-core CI
 * runner beside other tests) some do, and two builds wrote different caches. While holding, a
 * callback of `setTimeout` / `setInterval` with a delay of at least `minDelayMs` that comes due is
 * kept, not run; `release()` (called once the cache is written) runs the kept callbacks in the order
 * they came due, each in a later turn of the event loop, skipping any the program cleared meanwhile.
 * So, before the checkpoint, no such timer ever fires, however slow the run.
 *
 * Shorter timers (yields such as `setTimeout(fn, 0)`, which a start-up path may wait on) run as
 * usual: the threshold is CONTRAST_CODE_CACHE_HOLD_MS, default HOLD_MIN_DELAY_MS. Should the program
 * nevertheless go idle while callbacks are kept (its path waited on a held timer), they are released
 * then, so that the run ends instead of exiting early; that is deterministic too, as nothing else was
 * pending. Timers that Node keeps internally (socket timeouts, `node:timers/promises`, which only the
 * retry path uses, AbortSignal.timeout) are not held.
 */
import { promisify } from 'node:util';

/** Default threshold: timers due sooner than this are part of the start-up path, not timeouts. */
export const HOLD_MIN_DELAY_MS = 10;

/** Node's own rule (lib/internal/timers.js): a delay outside 1..2^31-1 ms, or not a number, is 1 ms. */
const TIMEOUT_MAX = 2 ** 31 - 1;
function effectiveDelay(delay: unknown): number {
  const ms = Number(delay);
  return ms >= 1 && ms <= TIMEOUT_MAX ? ms : 1;
}

type Callback = (...args: unknown[]) => void;
type Schedule = (callback: Callback, delay?: number, ...args: unknown[]) => NodeJS.Timeout;

/**
 * Replaces the global setTimeout, setInterval, clearTimeout and clearInterval (the same functions as
 * node:timers') with holding ones; returns release(). After release the replacements pass through.
 */
export function holdTimers(minDelayMs: number): () => void {
  const real = {
    setTimeout: globalThis.setTimeout,
    setInterval: globalThis.setInterval,
    clearTimeout: globalThis.clearTimeout,
    clearInterval: globalThis.clearInterval,
    setImmediate: globalThis.setImmediate,
  };
  /** Timer -> its kept call, in the order they came due (a Map iterates in insertion order). */
  const held = new Map<unknown, () => void>();
  let holding = true;

  const holdingVersion = (schedule: Schedule): Schedule => {
    const replacement = function (
      this: unknown,
      callback: Callback,
      delay?: number,
      ...args: unknown[]
    ): NodeJS.Timeout {
      if (typeof callback !== 'function' || effectiveDelay(delay) < minDelayMs)
        return schedule(callback, delay, ...args);
      const timer: NodeJS.Timeout = schedule(function (this: unknown) {
        if (!holding) {
          callback.apply(this, args);
          return;
        }
        // An interval that comes due again while held is still one call.
        if (!held.has(timer))
          held.set(timer, () => {
            callback.apply(timer, args);
          });
      }, delay);
      return timer;
    };
    // util.promisify(setTimeout) keeps resolving through node:timers/promises.
    const custom = (schedule as unknown as Record<symbol, unknown>)[promisify.custom];
    if (custom !== undefined) Object.defineProperty(replacement, promisify.custom, { value: custom });
    return replacement;
  };
  const clearingVersion =
    (clear: (timer?: NodeJS.Timeout | string | number) => void) =>
    (timer?: NodeJS.Timeout | string | number): void => {
      held.delete(timer);
      clear(timer);
    };

  const release = (): void => {
    if (!holding) return;
    holding = false;
    process.removeListener('beforeExit', release);
    if (held.size === 0) return;
    real.setImmediate(() => {
      // One call per turn, so that what the program does in between (clearing a timer) still counts.
      const next = (): void => {
        const first = held.entries().next();
        if (first.done === true) return;
        const [timer, call] = first.value;
        held.delete(timer);
        call();
        if (held.size > 0) real.setImmediate(next);
      };
      next();
    });
  };

  globalThis.setTimeout = holdingVersion(real.setTimeout) as unknown as typeof globalThis.setTimeout;
  globalThis.setInterval = holdingVersion(real.setInterval) as unknown as typeof globalThis.setInterval;
  globalThis.clearTimeout = clearingVersion(real.clearTimeout);
  globalThis.clearInterval = clearingVersion(real.clearInterval);
  // node:timers exports the same functions as the globals; modules that import them get these too.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- installed before the program loads node:timers
  const timers = require('node:timers') as Record<string, unknown>;
  for (const name of ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'] as const)
    timers[name] = globalThis[name];
  // Idle with callbacks kept: the path waited on a held timer. Release, so that the run goes on.
  process.on('beforeExit', release);
  return release;
}
