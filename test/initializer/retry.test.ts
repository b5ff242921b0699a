import test from 'ava';
import { retryUntilSuccess } from '../../initializer/retry.js';
import { InterruptedError } from '../../initializer/errors.js';
import { recordingLogger } from './helpers/logs.js';

class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const opts = (signal: AbortSignal, logger = recordingLogger().logger) => ({
  intervalMs: 20,
  attemptTimeoutMs: 5000,
  signal,
  logger,
  target: 'coordinator:7777',
});

test('retries until success: one WARN per failure with an actionable reason, then the value', async (t) => {
  const rec = recordingLogger();
  let n = 0;
  const failures = [
    new CodedError('ERR_MESHAPI_UNAVAILABLE', 'connect ECONNREFUSED 127.0.0.1:7777'),
    new CodedError('ERR_MESHAPI_PERMISSION_DENIED', 'policy hash abcd not found in manifest'),
    new CodedError('ERR_ATLS_HANDSHAKE_REJECTED', 'alert 42'),
  ];
  const result = await retryUntilSuccess(
    () => {
      const f = failures[n++];
      return f === undefined ? Promise.resolve('certs') : Promise.reject(f);
    },
    opts(new AbortController().signal, rec.logger),
  );
  t.deepEqual(result, { value: 'certs', attempts: 4 });
  const warns = rec.lines.filter((l) => l['level'] === 'WARN');
  t.is(warns.length, 3);
  t.true(warns.every((w) => w['msg'] === 'Requesting cert'));
  t.deepEqual(
    warns.map((w) => w['code']),
    ['ERR_MESHAPI_UNAVAILABLE', 'ERR_MESHAPI_PERMISSION_DENIED', 'ERR_ATLS_HANDSHAKE_REJECTED'],
  );
  t.deepEqual(
    warns.map((w) => w['attempt']),
    [1, 2, 3],
  );
  const reasons = warns.map((w) => String(w['err']));
  t.regex(reasons[0]!, /coordinator:7777.*ECONNREFUSED.*check that the Coordinator is running/);
  t.regex(reasons[1]!, /policy hash abcd not found in manifest.*host data/);
  t.regex(reasons[2]!, /reference values/);
});

test('the wait is measured from the failure: slow failures are never retried back to back', async (t) => {
  const ends: number[] = [];
  const starts: number[] = [];
  let n = 0;
  await retryUntilSuccess(async () => {
    starts.push(performance.now());
    if (n++ < 3) {
      await new Promise((r) => setTimeout(r, 60)); // slower than the 20 ms interval
      ends.push(performance.now());
      throw new Error('slow failure');
    }
    return true;
  }, opts(new AbortController().signal));
  for (let i = 0; i < ends.length; i++) t.true(starts[i + 1]! - ends[i]! >= 19, `gap after failure ${i + 1}`);
});

test('an abort during the wait ends the loop at once with InterruptedError', async (t) => {
  const controller = new AbortController();
  const o = { ...opts(controller.signal), intervalMs: 3_600_000 };
  const p = retryUntilSuccess(() => {
    setImmediate(() => {
      controller.abort('received SIGTERM');
    });
    return Promise.reject(new Error('down'));
  }, o);
  const err = await t.throwsAsync(p, { instanceOf: InterruptedError });
  t.is(err.code, 'ERR_INIT_INTERRUPTED');
  t.is(err.message, 'waiting for retry to request cert: received SIGTERM');
});

test('an abort during an attempt that ignores its signal still ends the loop at once', async (t) => {
  const controller = new AbortController();
  let seen: AbortSignal | undefined;
  const p = retryUntilSuccess((signal) => {
    seen = signal;
    setImmediate(() => {
      controller.abort('received SIGINT');
    });
    return new Promise<never>(() => undefined);
  }, opts(controller.signal));
  await t.throwsAsync(p, { instanceOf: InterruptedError, message: /received SIGINT/ });
  t.true(seen?.aborted, 'the attempt is told to stop');
});

test('an attempt that hangs is cut off by its budget and retried', async (t) => {
  const rec = recordingLogger();
  let n = 0;
  const result = await retryUntilSuccess(
    (signal) => {
      if (n++ === 0)
        return new Promise<never>((_, reject) => {
          signal.addEventListener('abort', () => {
            reject(signal.reason as Error);
          });
        });
      return Promise.resolve('ok');
    },
    { ...opts(new AbortController().signal, rec.logger), attemptTimeoutMs: 30 },
  );
  t.is(result.value, 'ok');
  t.deepEqual(
    rec.lines.filter((l) => l['level'] === 'WARN').map((w) => w['code']),
    ['ERR_INIT_ATTEMPT_TIMEOUT'],
  );
});

test('an already aborted signal never starts an attempt', async (t) => {
  const controller = new AbortController();
  controller.abort('received SIGTERM');
  let called = false;
  await t.throwsAsync(
    retryUntilSuccess(() => {
      called = true;
      return Promise.resolve(1);
    }, opts(controller.signal)),
    { instanceOf: InterruptedError },
  );
  t.false(called);
});

test('a cause that repeats the message is not repeated in the reason', async (t) => {
  const rec = recordingLogger();
  const grpc = new Error('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED');
  const wrapped = Object.assign(
    new Error(
      'Coordinator at coordinator:7777 unavailable: No connection established. Last error: connect ECONNREFUSED',
      { cause: grpc },
    ),
    { code: 'ERR_MESHAPI_UNAVAILABLE' },
  );
  const extra = new Error('outer', { cause: new Error('inner detail') });
  let n = 0;
  await retryUntilSuccess(
    () => (n++ === 0 ? Promise.reject(wrapped) : n === 2 ? Promise.reject(extra) : Promise.resolve(1)),
    opts(new AbortController().signal, rec.logger),
  );
  const reasons = rec.lines.filter((l) => l['level'] === 'WARN').map((l) => String(l['err']));
  t.is(
    reasons[0],
    'Coordinator at coordinator:7777 unavailable: No connection established. Last error: connect ECONNREFUSED (check that the Coordinator is running and that COORDINATOR_HOST points to it)',
  );
  t.is(reasons[1], 'coordinator:7777: outer: inner detail');
});

test('a permanent failure (missing native addon, also as a cause) ends the loop at once, without WARN lines', async (t) => {
  for (const err of [
    new CodedError('ERR_NATIVE_ADDON_NOT_FOUND', 'native addon contrast_native.node not found'),
    new Error('attestation failed', { cause: new CodedError('ERR_NATIVE_ADDON_NOT_FOUND', 'not found') }),
  ]) {
    const rec = recordingLogger();
    let calls = 0;
    const thrown = await t.throwsAsync(
      retryUntilSuccess(
        () => {
          calls++;
          return Promise.reject(err);
        },
        opts(new AbortController().signal, rec.logger),
      ),
    );
    t.is(thrown, err);
    t.is(calls, 1);
    t.is(rec.lines.filter((l) => l['level'] === 'WARN').length, 0);
  }
});
