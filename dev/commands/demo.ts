/**
 * `contrast-dev demo [--keep] [--step-timeout DURATION]` (also `npm run demo`): runs dev/demo.ts and
 * prints what happens for a person. Exit 0 when the mTLS request succeeded and the client without
 * mesh certificate was refused; 1 otherwise (one ERROR line, with the failing child's log tail).
 */
import type { Command } from 'commander';
import type { Logger } from '../../lib/log.js';
import { ConfigError } from '../../lib/errors.js';
import { parseDuration } from '../../lib/config.js';
import { runDemo } from '../demo.js';

export interface DemoCommandDeps {
  readonly logger: () => Logger;
  readonly out?: (line: string) => void;
}

export function registerDemoCommand(program: Command, deps: DemoCommandDeps): Command {
  return program
    .command('demo')
    .description(
      'run a confidential mesh locally: development Coordinator, two attested pods (insecure attestation), meshproxies, app and client',
    )
    .option('--keep', 'keep the temporary directory (logs, certificates)', false)
    .option('--step-timeout <duration>', 'bound for each step', '30s')
    .action(async (flags: { keep: boolean; stepTimeout: string }) => {
      const stepTimeoutMs = parseDuration(flags.stepTimeout);
      if (stepTimeoutMs === undefined || stepTimeoutMs <= 0)
        throw new ConfigError([`--step-timeout=${flags.stepTimeout}: expected a duration such as 30s`]);
      deps.logger();
      await runDemo({
        out:
          deps.out ??
          ((l) => {
            process.stdout.write(`${l}\n`);
          }),
        keep: flags.keep,
        stepTimeoutMs,
      });
    });
}
