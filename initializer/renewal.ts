/**
 * Renewal mode: after the first set and the done file, the initializer stays as a native sidecar and
 * asks the Coordinator again (same key, same aTLS client, same NewMeshCert call):
 *   - when the leaf reaches CONTRAST_RENEWAL_AT of its lifetime (the set is replaced even if the CA
 *     is unchanged: that is the point),
 *   - every CONTRAST_RENEWAL_INTERVAL (jittered), replacing the set only when the mesh CA, the
 *     intermediate or the root changed (a new leaf alone under the same CA is not worth a generation),
 *   - at once when the meshproxy requests it (peers fail with an unknown CA), at most every
 *     SIGNAL_COOLDOWN_MS.
 * A failed attempt keeps the current set, logs one WARN line saying why, and retries with backoff.
 * Aborting the signal (SIGTERM) ends the loop at once; it resolves normally.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from '../lib/log.js';
import type { InitializerConfig } from './config.js';
import { errorCode } from '../lib/errors.js';
import { failureReason, isPermanentFailure } from './failure-reason.js';
import type { CertRequest } from './initializer.js';
import { validateMeshCerts, type ValidatedMeshCerts } from './mesh-response.js';
import { FILES, planOutputs, type PlannedFile } from './outputs.js';
import type { RenewalConfig } from './renewal-config.js';
import { backoff, nextCheck, renewalDueAt, type RenewalTiming, type Validity } from './renewal-schedule.js';
import type { RenewalTrigger } from './renewal-trigger.js';
import { runAttempt } from './retry.js';
import { writeGeneration } from './tls-generation.js';
import type { WorkloadKey } from './workload-key.js';

/** The least time between two renewals requested by the meshproxy. */
export const SIGNAL_COOLDOWN_MS = 5000;

export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

export interface RenewalDeps {
  readonly renewal: RenewalConfig;
  readonly retryIntervalMs: number;
  /** Named in WARN lines, e.g. `coordinator:7777`. */
  readonly target: string;
  readonly key: WorkloadKey;
  readonly request: CertRequest;
  readonly logger: Logger;
  /** SIGTERM/SIGINT: ends the loop. */
  readonly signal: AbortSignal;
  /** The set written at start and its generation number. */
  readonly initial: { readonly certs: ValidatedMeshCerts; readonly generation: number };
  /** Writes `certs` as the next generation; resolves with its number. */
  readonly write: (certs: ValidatedMeshCerts, generation: number) => Promise<unknown>;
  readonly trigger: RenewalTrigger;
  readonly attemptTimeoutMs: number;
  readonly clock?: Clock;
  readonly random?: () => number;
}

export async function runRenewal(deps: RenewalDeps): Promise<void> {
  const { logger, signal, renewal } = deps;
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const timing: RenewalTiming = {
    intervalMs: renewal.intervalMs,
    at: renewal.at,
    retryIntervalMs: deps.retryIntervalMs,
  };
  let current = deps.initial.certs;
  let generation = deps.initial.generation;
  let failures = 0;
  let lastAttemptAt = -Infinity;
  logger.info(
    {
      generation,
      intervalMs: renewal.intervalMs,
      renewalAt: renewal.at,
      dueAt: new Date(renewalDueAt(validity(current), renewal.at)).toISOString(),
      signalFile: renewal.signalFile,
    },
    'Renewal mode: staying to renew certificates',
  );
  while (!signal.aborted) {
    const plan =
      failures > 0
        ? { delayMs: backoff(failures, timing, random()), reason: 'retry' }
        : nextCheck(clock.now(), validity(current), timing, random());
    let reason: string;
    try {
      reason = await wake(plan, deps.trigger, clock, signal);
      const sinceLast = clock.now() - lastAttemptAt;
      if (reason.startsWith('meshproxy') && sinceLast < SIGNAL_COOLDOWN_MS)
        await clock.sleep(SIGNAL_COOLDOWN_MS - sinceLast, signal);
    } catch {
      break;
    }
    lastAttemptAt = clock.now();
    let next: ValidatedMeshCerts;
    try {
      next = await runAttempt(
        async (attemptSignal) =>
          validateMeshCerts(await deps.request(attemptSignal), deps.key.publicKey, new Date(clock.now())),
        {
          intervalMs: deps.retryIntervalMs,
          attemptTimeoutMs: deps.attemptTimeoutMs,
          signal,
          logger,
          target: deps.target,
        },
      );
    } catch (err) {
      // The attempt may have ended because of SIGTERM (checked anew: it changed while we waited).
      if (isAborted(signal)) break;
      if (isPermanentFailure(err)) throw err;
      failures += 1;
      logger.warn(
        {
          err: failureReason(err, deps.target),
          code: errorCode(err),
          reason,
          attempt: failures,
          retryInMs: backoff(failures, timing, 1),
          keeping: generation,
        },
        'Renewing cert failed, keeping the current certificates',
      );
      continue;
    }
    failures = 0;
    const due = clock.now() >= renewalDueAt(validity(current), renewal.at);
    if (!due && !caChanged(current, next)) {
      logger.debug({ reason, meshCA: next.meshCA.fingerprint256, generation }, 'Renewal check: mesh CA unchanged');
      continue;
    }
    if (!next.workloadSecret.equals(current.workloadSecret)) {
      logger.warn(
        { generation },
        'The Coordinator sent a different workload secret; the seed written at start is kept (restart the pod to take the new one)',
      );
    }
    try {
      await deps.write(next, generation + 1);
    } catch (err) {
      failures += 1;
      logger.warn(
        { err: failureReason(err, deps.target), code: errorCode(err), attempt: failures, keeping: generation },
        'Writing renewed certificates failed, keeping the current certificates',
      );
      continue;
    }
    logger.info(
      {
        generation: generation + 1,
        previousGeneration: generation,
        reason: due ? `expiry (${renewal.at} of the lifetime)` : reason,
        oldMeshCA: current.meshCA.fingerprint256,
        newMeshCA: next.meshCA.fingerprint256,
        validTo: next.leaf.validTo,
      },
      'Renewed mesh certificates',
    );
    generation += 1;
    current = next;
  }
  logger.info({ generation, reason: describeAbort(signal) }, 'Renewal stopped');
}

/** Sleeps for the plan, or less when the trigger fires; resolves with why it woke. */
async function wake(
  plan: { delayMs: number; reason: string },
  trigger: RenewalTrigger,
  clock: Clock,
  signal: AbortSignal,
): Promise<string> {
  const controller = new AbortController();
  const both = AbortSignal.any([signal, controller.signal]);
  try {
    return await Promise.race([
      clock.sleep(plan.delayMs, both).then(() => plan.reason),
      trigger.next(both).then((why) => `meshproxy: ${why}`),
    ]);
  } finally {
    controller.abort();
  }
}

function validity(certs: ValidatedMeshCerts): Validity {
  return { notBefore: new Date(certs.leaf.validFrom).getTime(), notAfter: new Date(certs.leaf.validTo).getTime() };
}

/** A new mesh CA, intermediate or root: what peers verify against. */
function caChanged(a: ValidatedMeshCerts, b: ValidatedMeshCerts): boolean {
  const tail = (c: ValidatedMeshCerts): string =>
    c.certChain
      .toString('latin1')
      .replace(/^[\s\S]*?-----END CERTIFICATE-----/, '')
      .trim();
  return !a.meshCACert.equals(b.meshCACert) || !a.rootCACert.equals(b.rootCACert) || tail(a) !== tail(b);
}

function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function describeAbort(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return typeof r === 'string' ? r : r instanceof Error ? r.message : 'stopped';
}

/** The TLS directory's files of `certs` (the upstream names), as one generation for tls-generation.ts. */
export function tlsFiles(files: readonly PlannedFile[]): { name: string; data: string | Buffer; mode: number }[] {
  return files.map((f) => ({ name: basename(f.path), data: f.data, mode: f.mode }));
}

/** Writes generation `n` of the TLS directory from a validated answer. */
export function generationWriter(
  config: InitializerConfig,
  keyPem: string,
): (certs: ValidatedMeshCerts, n: number) => Promise<string[]> {
  return (certs, n) => {
    const files = planOutputs(config, certs, keyPem).filter(
      (f) => dirname(f.path) === config.tlsDir && basename(f.path) !== FILES.workloadSecretSeed,
    );
    return writeGeneration(config.tlsDir, tlsFiles(files), n);
  };
}
