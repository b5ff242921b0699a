/**
 * The renewal loop with a virtual clock (sleeps advance it at once), a request that answers like the
 * development Coordinator (real certificates from its state, issued for the workload key), and a
 * trigger the test fires: which waits it asks for, when it writes, what it logs.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { rotateMeshCa, prepareState, type CoordinatorState } from '../../lib/coordinator/state.js';
import { issueMeshCert } from '../../lib/coordinator/mesh-cert.js';
import { toPem } from '../../lib/x509/pem.js';
import type { Logger } from '../../lib/log.js';
import { validateMeshCerts, type MeshCerts } from '../../initializer/mesh-response.js';
import { runRenewal, SIGNAL_COOLDOWN_MS, type Clock } from '../../initializer/renewal.js';
import type { RenewalTrigger } from '../../initializer/renewal-trigger.js';
import { generateWorkloadKey } from '../../initializer/workload-key.js';

const HOUR = 3_600_000;

interface Harness {
  readonly sleeps: number[];
  readonly writes: { generation: number; meshCA: string }[];
  readonly lines: Record<string, unknown>[];
  readonly stop: AbortController;
  state: CoordinatorState;
  /** Answers in order: 'ok' issues from `state`; an Error fails the attempt. */
  script: ('ok' | Error)[];
  /** Requests the trigger hands out, one per wait. */
  requests: string[];
  /** Waits of an interval's length stay pending (as a real timer would) until aborted. */
  blockIntervals: boolean;
  clock: Clock & { t: number };
}

async function harness(
  t: { teardown(f: () => Promise<void>): void },
  opts: { stopAfterSleeps: number; startAt?: (notBefore: number, notAfter: number) => number },
): Promise<{ h: Harness; run: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `renewal-loop-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const key = generateWorkloadKey();
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug', messageKey: 'msg' },
    new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    }),
  ) as unknown as Logger;
  const stop = new AbortController();
  const h: Harness = {
    sleeps: [],
    writes: [],
    lines,
    stop,
    state: await prepareState(dir),
    script: [],
    requests: [],
    blockIntervals: false,
    clock: {
      t: 0,
      now() {
        return this.t;
      },
      async sleep(ms, signal) {
        h.sleeps.push(ms);
        if (h.sleeps.length > opts.stopAfterSleeps) stop.abort('received SIGTERM');
        signal.throwIfAborted();
        if (h.blockIntervals && ms >= HOUR / 2) {
          await new Promise((_, reject) => {
            signal.addEventListener(
              'abort',
              () => {
                reject(new Error('aborted'));
              },
              { once: true },
            );
          });
        }
        h.clock.t += ms;
        await Promise.resolve();
      },
    },
  };
  const answer = (): MeshCerts => {
    const leaf = issueMeshCert({ issuerKey: h.state.meshCAKey, subjectPublicKey: key.publicKey, sans: ['pod'] });
    return {
      meshCACert: Buffer.from(h.state.meshCAPem),
      certChain: Buffer.from(toPem(leaf, 'CERTIFICATE') + h.state.intermediatePem),
      rootCACert: Buffer.from(h.state.rootCAPem),
      workloadSecret: Buffer.alloc(0),
    };
  };
  const initial = validateMeshCerts(answer(), key.publicKey);
  const notBefore = new Date(initial.leaf.validFrom).getTime();
  h.clock.t = opts.startAt?.(notBefore, new Date(initial.leaf.validTo).getTime()) ?? notBefore + HOUR;
  const trigger: RenewalTrigger = {
    next: (signal) =>
      new Promise((resolve, reject) => {
        const r = h.requests.shift();
        if (r !== undefined) {
          resolve(r);
          return;
        }
        signal.addEventListener(
          'abort',
          () => {
            reject(new Error('aborted'));
          },
          { once: true },
        );
      }),
  };
  const run = (): Promise<void> =>
    runRenewal({
      renewal: { intervalMs: HOUR, at: 0.66, signalFile: '/unused' },
      retryIntervalMs: 5000,
      target: 'coordinator:7777',
      key,
      request: () => {
        const next = h.script.shift() ?? 'ok';
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(answer());
      },
      logger,
      signal: stop.signal,
      initial: { certs: initial, generation: 1 },
      write: (certs, generation) => {
        h.writes.push({ generation, meshCA: certs.meshCA.fingerprint256 });
        return Promise.resolve();
      },
      trigger,
      attemptTimeoutMs: 60_000,
      clock: h.clock,
      random: () => 0.5,
    });
  return { h, run };
}

const msgs = (h: Harness, msg: string): Record<string, unknown>[] => h.lines.filter((l) => l['msg'] === msg);

test('interval checks with an unchanged mesh CA write nothing; a rotated CA becomes generation 2 with one INFO line', async (t) => {
  const { h, run } = await harness(t, { stopAfterSleeps: 4 });
  const rotateDir = await mkdtemp(join(tmpdir(), `renewal-rotate-${process.pid}-`));
  t.teardown(() => rm(rotateDir, { recursive: true, force: true }));
  const oldCa = h.state.meshCAPem;
  const rotateAfter = 2;
  const origSleep = h.clock.sleep.bind(h.clock);
  h.clock.sleep = async (ms, signal) => {
    await origSleep(ms, signal);
    if (h.sleeps.length === rotateAfter) h.state = await rotateMeshCa(rotateDir, h.state);
  };
  await run();
  t.deepEqual(
    h.sleeps.slice(0, 4),
    [0.9 * HOUR, 0.9 * HOUR, 0.9 * HOUR, 0.9 * HOUR],
    'the jittered interval each time',
  );
  t.is(h.writes.length, 1);
  t.is(h.writes[0]?.generation, 2);
  const renewed = msgs(h, 'Renewed mesh certificates');
  t.is(renewed.length, 1);
  t.not(renewed[0]?.['oldMeshCA'], renewed[0]?.['newMeshCA']);
  t.is(renewed[0]?.['reason'], 'interval');
  t.not(oldCa, h.state.meshCAPem);
  t.is(msgs(h, 'Renewal check: mesh CA unchanged').length, 3, 'one check before the rotation, two after');
  t.is(msgs(h, 'Renewal stopped').length, 1);
});

test('failures keep the set, log WARN lines with the reason, back off, and reset after a success', async (t) => {
  const { h, run } = await harness(t, { stopAfterSleeps: 5 });
  const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7777'), { code: 'ERR_MESHAPI_UNAVAILABLE' });
  h.script = [down, down, down, 'ok'];
  await run();
  t.deepEqual(h.sleeps, [0.9 * HOUR, 4500, 9000, 18_000, 0.9 * HOUR, 0.9 * HOUR]);
  const warns = msgs(h, 'Renewing cert failed, keeping the current certificates');
  t.is(warns.length, 3);
  t.true(warns.every((w) => w['level'] === 40 && w['code'] === 'ERR_MESHAPI_UNAVAILABLE' && w['keeping'] === 1));
  t.regex(String(warns[0]?.['err']), /ECONNREFUSED.*check that the Coordinator is running/);
  t.deepEqual(
    warns.map((w) => w['attempt']),
    [1, 2, 3],
  );
  t.deepEqual(h.writes, [], 'nothing written: same CA');
});

test('at the renewal fraction the set is replaced even under the same mesh CA', async (t) => {
  const { h, run } = await harness(t, { stopAfterSleeps: 1, startAt: (nb, na) => nb + 0.66 * (na - nb) - 1000 });
  await run();
  t.is(h.sleeps[0], 1000, 'wakes at the due time, before the interval');
  t.is(h.writes.length, 1);
  t.regex(String(msgs(h, 'Renewed mesh certificates')[0]?.['reason']), /^expiry \(0\.66/);
  t.is(msgs(h, 'Renewed mesh certificates')[0]?.['oldMeshCA'], msgs(h, 'Renewed mesh certificates')[0]?.['newMeshCA']);
});

test("the meshproxy's request wakes the loop at once; a second one waits out the cooldown", async (t) => {
  const { h, run } = await harness(t, { stopAfterSleeps: 3 });
  h.blockIntervals = true;
  h.requests = ['UNABLE_TO_VERIFY_LEAF_SIGNATURE 127.0.0.1:4000', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE 127.0.0.1:4001'];
  await run();
  t.deepEqual(
    h.sleeps,
    [0.9 * HOUR, 0.9 * HOUR, SIGNAL_COOLDOWN_MS, 0.9 * HOUR],
    'interval waits cut short; the second request waits the cooldown',
  );
  t.deepEqual(
    msgs(h, 'Renewal check: mesh CA unchanged').map((l) => l['reason']),
    [
      'meshproxy: UNABLE_TO_VERIFY_LEAF_SIGNATURE 127.0.0.1:4000',
      'meshproxy: UNABLE_TO_VERIFY_LEAF_SIGNATURE 127.0.0.1:4001',
    ],
  );
  t.is(h.writes.length, 0);
});

test('SIGTERM while waiting ends the loop normally with one INFO line', async (t) => {
  const { h, run } = await harness(t, { stopAfterSleeps: 0 });
  await run();
  t.is(h.writes.length, 0);
  const stopped = msgs(h, 'Renewal stopped');
  t.is(stopped.length, 1);
  t.is(stopped[0]?.['reason'], 'received SIGTERM');
});
