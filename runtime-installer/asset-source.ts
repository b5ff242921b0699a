/**
 * Reading an artifact's bytes from its source: `file://` (a local path, usually in the image) and
 * `http(s)://` through undici (HTTPS_PROXY / HTTP_PROXY / NO_PROXY honoured), with a per-attempt idle
 * timeout, a total deadline per artifact that all its attempts share, redirects, retries with
 * exponential backoff, and progress lines (bytes, rate, ETA) for long downloads.
 */
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import type { Logger } from '../lib/log.js';
import { FetchError } from './errors.js';
import { ContrastError, errorMessage } from '../lib/errors.js';
import { readAt } from './host-root.js';

/** Proxy settings from the environment (lowercase names win, as with curl and undici). */
export interface ProxySettings {
  readonly httpProxy: string | undefined;
  readonly httpsProxy: string | undefined;
  readonly noProxy: string | undefined;
}

export interface HttpOptions {
  /** Attempts in total (>= 1). */
  readonly attempts: number;
  /** Idle timeout per attempt (no bytes for this long → abort the attempt). */
  readonly timeoutMs: number;
  /** Backoff before the second attempt; doubles after each failure. */
  readonly backoffMs: number;
  /** Interval between progress lines while a download runs. */
  readonly progressIntervalMs: number;
  /**
   * Total deadline per artifact, shared by all its attempts and backoffs; 0 = derived: `graceMs` plus
   * the artifact's Content-Length at `minBytesPerSecond` (without a length: the average rate after
   * `graceMs` must stay at or above `minBytesPerSecond`).
   */
  readonly deadlineMs: number;
  readonly minBytesPerSecond: number;
  readonly graceMs: number;
  readonly proxy: ProxySettings;
}

export const NO_PROXY_SETTINGS: ProxySettings = Object.freeze({
  httpProxy: undefined,
  httpsProxy: undefined,
  noProxy: undefined,
});

export const DEFAULT_HTTP_OPTIONS: HttpOptions = Object.freeze({
  attempts: 4,
  timeoutMs: 60_000,
  backoffMs: 1000,
  progressIntervalMs: 5000,
  deadlineMs: 0,
  minBytesPerSecond: 1024 * 1024,
  graceMs: 60_000,
  proxy: NO_PROXY_SETTINGS,
});

/** Receives the bytes of one attempt; `reset()` is called before a retry starts over. */
export interface ByteSink {
  reset(): Promise<void>;
  write(chunk: Buffer): Promise<void>;
}

/** Streams a `file://` source into the sink. */
export async function readFileSource(url: URL, sink: ByteSink): Promise<void> {
  const path = fileURLToPath(url);
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) await sink.write(chunk as Buffer);
  } catch (err) {
    throw new FetchError(`reading ${url.href}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Streams an open file (read from offset 0, the fd is left open) into the sink. */
export async function readFdSource(fd: number, what: string, sink: ByteSink): Promise<void> {
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let position = 0; ;) {
      const n = await readAt(fd, buf, 0, buf.length, position);
      if (n === 0) return;
      await sink.write(buf.subarray(0, n));
      position += n;
    }
  } catch (err) {
    throw new FetchError(`reading ${what}: ${errorMessage(err)}`, { cause: err });
  }
}

/** One failed download attempt; wrapped into FetchError once the attempts are used up. */
class AttemptError extends ContrastError {
  readonly code = 'ERR_FETCH_ATTEMPT';

  constructor(
    message: string,
    readonly retriable: boolean,
  ) {
    super(message);
  }
}

/** The dispatcher for our downloads: proxy-aware when any proxy variable is set. */
export function createDispatcher(proxy: ProxySettings): Dispatcher {
  if (proxy.httpProxy === undefined && proxy.httpsProxy === undefined) return new Agent();
  return new EnvHttpProxyAgent({
    ...(proxy.httpProxy === undefined ? {} : { httpProxy: proxy.httpProxy }),
    ...(proxy.httpsProxy === undefined ? {} : { httpsProxy: proxy.httpsProxy }),
    ...(proxy.noProxy === undefined ? {} : { noProxy: proxy.noProxy }),
  });
}

/** Downloads an `http(s)://` source into the sink, retrying transient failures within the artifact's deadline. */
export async function readHttpSource(
  url: URL,
  sink: ByteSink,
  options: HttpOptions,
  log: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const dispatcher = createDispatcher(options.proxy);
  const started = Date.now();
  const deadline: Deadline = {
    start: started,
    at: options.deadlineMs > 0 ? started + options.deadlineMs : undefined,
    derived: options.deadlineMs === 0,
  };
  let backoff = options.backoffMs;
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await sink.reset();
        await attemptDownload(url, sink, options, log, deadline, 0, signal, dispatcher);
        return;
      } catch (err) {
        const retriable = !(err instanceof AttemptError) || err.retriable;
        const msg = `downloading ${url.href} (attempt ${attempt} of ${options.attempts}): ${errorMessage(err)}`;
        const left = deadline.at === undefined ? Infinity : deadline.at - Date.now();
        if (!retriable || attempt >= options.attempts || signal?.aborted === true)
          throw new FetchError(msg, { cause: err });
        if (left <= backoff)
          throw new FetchError(
            `${msg}; no time left for another attempt within the artifact's deadline of ${deadline.at === undefined ? 0 : deadline.at - started} ms`,
            { cause: err },
          );
        log.warn({ url: url.href, attempt, retryInMs: backoff }, msg);
        await new Promise((r) => setTimeout(r, backoff));
        backoff *= 2;
      }
    }
  } finally {
    await dispatcher.close().catch(() => undefined);
  }
}

interface Deadline {
  /** When the artifact's first attempt started. */
  readonly start: number;
  /** Epoch ms after which the artifact's download is given up (all attempts). */
  at: number | undefined;
  /** Whether `at` follows from the Content-Length and the minimum rate. */
  readonly derived: boolean;
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

async function attemptDownload(
  url: URL,
  sink: ByteSink,
  options: HttpOptions,
  log: Logger,
  deadline: Deadline,
  redirects: number,
  signal: AbortSignal | undefined,
  dispatcher: Dispatcher,
): Promise<void> {
  const controller = new AbortController();
  const onAbort = () => {
    controller.abort(signal?.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let expired: AttemptError | undefined;
  const expire = (e: AttemptError) => {
    expired ??= e;
    controller.abort(e);
  };
  let deadlineTimer: NodeJS.Timeout | undefined;
  const armDeadline = () => {
    if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
    if (deadline.at === undefined) return;
    const ms = Math.max(0, Math.min(deadline.at - Date.now(), 2 ** 31 - 1));
    deadlineTimer = setTimeout(() => {
      expire(new AttemptError(`deadline for this artifact passed (${deadlineText(deadline, options)})`, false));
    }, ms);
    deadlineTimer.unref();
  };
  armDeadline();
  let progress: NodeJS.Timeout | undefined;
  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        dispatcher,
        signal: controller.signal,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
    } catch (err) {
      throw expired ?? describe(err, options);
    }
    const status = res.statusCode;
    const location = firstHeader(res.headers['location']);
    if (status >= 300 && status < 400 && location !== undefined) {
      res.body.resume();
      if (redirects >= 5) throw new AttemptError('too many redirects', false);
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw new AttemptError(`redirect to ${next.protocol} refused`, false);
      clearTimeout(deadlineTimer);
      await attemptDownload(next, sink, options, log, deadline, redirects + 1, signal, dispatcher);
      return;
    }
    if (status < 200 || status >= 300) {
      res.body.resume();
      throw new AttemptError(`HTTP status ${status}: expected 2xx`, status >= 500 || status === 429 || status === 408);
    }
    const total = Number(firstHeader(res.headers['content-length']) ?? NaN);
    if (deadline.derived && deadline.at === undefined && Number.isFinite(total)) {
      // The first response that tells the size fixes the artifact's deadline.
      deadline.at = deadline.start + options.graceMs + Math.ceil((total / options.minBytesPerSecond) * 1000);
      armDeadline();
    }
    const started = Date.now();
    let bytes = 0;
    progress = setInterval(() => {
      const secs = (Date.now() - started) / 1000;
      const rate = secs > 0 ? bytes / secs : 0;
      const eta = Number.isFinite(total) && rate > 0 ? Math.ceil((total - bytes) / rate) : undefined;
      log.info(
        {
          url: url.href,
          bytes,
          total: Number.isFinite(total) ? total : undefined,
          mibPerSecond: Number((rate / 1048576).toFixed(3)),
          etaSeconds: eta,
        },
        'downloading',
      );
      // Without a length: a derived deadline becomes a floor on the average rate after the grace time.
      if (
        deadline.derived &&
        !Number.isFinite(total) &&
        Date.now() - started > options.graceMs &&
        rate < options.minBytesPerSecond
      ) {
        expire(
          new AttemptError(
            `average rate ${Math.round(rate)} bytes/s after ${Math.round(secs)} s: expected at least ${options.minBytesPerSecond} bytes/s (CONTRAST_INSTALLER_FETCH_MIN_RATE)`,
            true,
          ),
        );
      }
    }, options.progressIntervalMs);
    progress.unref();
    try {
      for await (const chunk of res.body) {
        bytes += (chunk as Buffer).length;
        await sink.write(chunk as Buffer);
      }
    } catch (err) {
      throw expired ?? describe(err, options, bytes);
    }
    if (expired !== undefined) throw expired;
    if (Number.isFinite(total) && bytes !== total)
      throw new AttemptError(`got ${bytes} bytes: expected Content-Length ${total}`, true);
  } finally {
    clearInterval(progress);
    clearTimeout(deadlineTimer);
    signal?.removeEventListener('abort', onAbort);
  }
}

function deadlineText(deadline: Deadline, options: HttpOptions): string {
  return deadline.derived
    ? `${options.graceMs} ms + Content-Length at ${options.minBytesPerSecond} bytes/s, CONTRAST_INSTALLER_FETCH_MIN_RATE`
    : `CONTRAST_INSTALLER_FETCH_DEADLINE=${options.deadlineMs} ms`;
}

/** undici's errors as attempt errors: timeouts, resets and refusals are transient. */
function describe(err: unknown, options: HttpOptions, bytes?: number): AttemptError {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new AttemptError(`no data for ${options.timeoutMs} ms`, true);
  if (code === 'UND_ERR_SOCKET' && bytes !== undefined)
    return new AttemptError(`connection closed after ${bytes} bytes`, true);
  const cause = e.cause?.code !== undefined ? `${e.cause.code} ${e.cause.message ?? ''}`.trim() : '';
  const text = [e.message ?? String(err), cause].filter((x) => x !== '').join(': ');
  return new AttemptError(text, true);
}
