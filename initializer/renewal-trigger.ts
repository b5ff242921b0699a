/**
 * The initializer's side of the renewal request (lib/pod-layout.ts): waits until the request file
 * appears, then reads and removes it and answers with its content (the meshproxy's reason). The file's
 * directory is watched, with a poll once a second as a safety net (a watch can miss events, or the
 * directory may not exist yet).
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface RenewalTrigger {
  /** Resolves with the request's reason when one arrives; rejects with the signal's reason on abort. */
  next(signal: AbortSignal): Promise<string>;
}

export const TRIGGER_POLL_MS = 1000;

/** Reads and removes the request file; undefined when there is none. */
export async function consumeRequest(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  await unlink(file).catch(() => undefined);
  return text.trim().slice(0, 200) || 'renewal requested';
}

export function fileTrigger(file: string, pollMs = TRIGGER_POLL_MS): RenewalTrigger {
  return {
    next(signal) {
      return new Promise<string>((resolve, reject) => {
        let watcher: FSWatcher | undefined;
        let checking = false;
        const finish = (): void => {
          clearInterval(timer);
          watcher?.close();
          signal.removeEventListener('abort', onAbort);
        };
        const check = (): void => {
          if (checking || signal.aborted) return;
          checking = true;
          void consumeRequest(file).then((reason) => {
            checking = false;
            if (reason === undefined || signal.aborted) return;
            finish();
            resolve(reason);
          });
        };
        const onAbort = (): void => {
          finish();
          reject(signal.reason as Error);
        };
        const timer = setInterval(check, pollMs);
        try {
          watcher = watch(dirname(file), (_event, name) => {
            if (name === null || name === basename(file)) check();
          });
          watcher.on('error', () => {
            watcher?.close();
          });
        } catch {
          // no directory (yet): the poll covers it
        }
        signal.addEventListener('abort', onAbort, { once: true });
        if (signal.aborted) onAbort();
        else check();
      });
    },
  };
}
