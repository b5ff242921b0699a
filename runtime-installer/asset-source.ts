/**
 * Reading an artifact's bytes from its source: `file://` (a local path, usually in the image) and
 * `http(s)://` with a per-attempt idle timeout, redirects, retries with exponential backoff, and
 * progress lines (bytes, rate) for long downloads.
 */
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Logger } from '../lib/log.js';
import { FetchError } from './errors.js';
import { ContrastError, errorMessage } from '../lib/errors.js';

export interface HttpOptions {
  /** Attempts in total (>= 1). */
  readonly attempts: number;
  /** Idle timeout per attempt (no bytes for this long → abort the attempt). */
  readonly timeoutMs: number;
  /** Backoff before the second attempt; doubles after each failure. */
  readonly backoffMs: number;
  /** Interval between progress lines while a download runs. */
  readonly progressIntervalMs: number;
}

export const DEFAULT_HTTP_OPTIONS: HttpOptions = Object.freeze({ attempts: 4, timeoutMs: 60_000, backoffMs: 1000, progressIntervalMs: 5000 });

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

/** One failed download attempt; wrapped into FetchError once the attempts are used up. */
class AttemptError extends ContrastError {
  readonly code = 'ERR_FETCH_ATTEMPT';

  constructor(message: string, readonly retriable: boolean) {
    super(message);
  }
}

/** Downloads an `http(s)://` source into the sink, retrying transient failures. */
export async function readHttpSource(url: URL, sink: ByteSink, options: HttpOptions, log: Logger, signal?: AbortSignal): Promise<void> {
  let backoff = options.backoffMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await sink.reset();
      await attemptDownload(url, sink, options, log, 0, signal);
      return;
    } catch (err) {
      const retriable = !(err instanceof AttemptError) || err.retriable;
      const msg = `downloading ${url.href} (attempt ${attempt} of ${options.attempts}): ${errorMessage(err)}`;
      if (!retriable || attempt >= options.attempts || signal?.aborted === true) throw new FetchError(msg, { cause: err });
      log.warn({ url: url.href, attempt, retryInMs: backoff }, msg);
      await new Promise((r) => setTimeout(r, backoff));
      backoff *= 2;
    }
  }
}

function attemptDownload(url: URL, sink: ByteSink, options: HttpOptions, log: Logger, redirects: number, signal?: AbortSignal): Promise<void> {
  const get = url.protocol === 'https:' ? https.get : http.get;
  return new Promise<void>((resolve, reject) => {
    const req = get(url, { timeout: options.timeoutMs, ...(signal === undefined ? {} : { signal }) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location !== undefined) {
        res.resume();
        if (redirects >= 5) {
          reject(new AttemptError('too many redirects', false));
          return;
        }
        const next = new URL(res.headers.location, url);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          reject(new AttemptError(`redirect to ${next.protocol} refused`, false));
          return;
        }
        attemptDownload(next, sink, options, log, redirects + 1, signal).then(resolve, reject);
        return;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        reject(new AttemptError(`HTTP status ${status}: expected 2xx`, status >= 500 || status === 429 || status === 408));
        return;
      }
      const total = Number(res.headers['content-length'] ?? NaN);
      const started = Date.now();
      let bytes = 0;
      const progress = setInterval(() => {
        const secs = (Date.now() - started) / 1000;
        log.info({ url: url.href, bytes, total: Number.isFinite(total) ? total : undefined, mibPerSecond: Number((bytes / 1048576 / secs).toFixed(1)) }, 'downloading');
      }, options.progressIntervalMs);
      progress.unref();
      (async () => {
        for await (const chunk of res) {
          bytes += (chunk as Buffer).length;
          await sink.write(chunk as Buffer);
        }
        if (!res.complete) throw new AttemptError(`connection closed after ${bytes} bytes`, true);
        if (Number.isFinite(total) && bytes !== total) throw new AttemptError(`got ${bytes} bytes: expected Content-Length ${total}`, true);
      })().then(resolve, reject).finally(() => { clearInterval(progress); });
    });
    req.on('timeout', () => req.destroy(new AttemptError(`no data for ${options.timeoutMs} ms`, true)));
    req.on('error', reject);
  });
}
