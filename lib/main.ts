/**
 * The common tail of every program's `main()`: run, map failures to exit codes, one ERROR line.
 * Exit 64 for a bad configuration (EX_USAGE), 1 for a runtime failure.
 */
import { ConfigError, describeError, errorCode } from './errors.js';
import type { Logger } from './log.js';
import { createLogger, parseLogConfig } from './log.js';

export const EXIT_CONFIG = 64;
export const EXIT_FAILURE = 1;

/**
 * Runs `run()`. A rejection is logged as one ERROR line through `logger()` (or a bare logger in the
 * requested format, text by default, if the logger itself could not be configured) and sets the exit code.
 */
export function runMain(run: () => Promise<number | undefined>, logger: () => Logger | undefined): void {
  run().then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (err: unknown) => {
      const log =
        logger() ??
        createLogger({ level: 'info', format: parseLogConfig(process.env).config.format, subsystems: new Set() });
      log.error({ code: errorCode(err) }, describeError(err));
      process.exitCode = err instanceof ConfigError ? EXIT_CONFIG : EXIT_FAILURE;
    },
  );
}
