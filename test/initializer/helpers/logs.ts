/** A logger that records JSON lines for assertions. */
import { createLogger, type Logger } from '../../../lib/log.js';

export interface Recorded {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
  withMsg(msg: string): Record<string, unknown>[];
}

export function recordingLogger(level: 'debug' | 'info' = 'debug'): Recorded {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(
    { level, format: 'json', subsystems: '*' },
    {
      destination: {
        write: (line: string) => {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
    },
  );
  return { logger, lines, withMsg: (msg) => lines.filter((l) => l['msg'] === msg) };
}

/** Parses JSON log lines from a child's stderr. */
export function parseLogLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { msg: l, level: 'RAW' };
      }
    });
}
