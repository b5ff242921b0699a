/**
 * Command line of contrast-meshproxy. Envoy-style arguments that upstream pod specs pass (`-l debug`,
 * `--component-log-level ...`) are accepted and ignored: the log level comes from CONTRAST_LOG_LEVEL.
 */
import { Command } from 'commander';

export interface CliOptions {
  readonly printConfig: boolean;
  /** Arguments accepted for compatibility and not used. */
  readonly ignored: readonly string[];
}

export function parseCli(argv: readonly string[], version: string): CliOptions {
  const program = new Command('contrast-meshproxy')
    .description('Service-mesh sidecar: mutual TLS for the pod per the servicemesh-* annotations')
    .version(version)
    .option('--print-config', 'print the parsed plan as one JSON object and exit (2 on a bad annotation)')
    .option('-l, --log-level <level>', 'accepted for Envoy compatibility; ignored (use CONTRAST_LOG_LEVEL)')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .exitOverride();
  program.parse([...argv], { from: 'user' });
  const opts = program.opts<{ printConfig?: boolean; logLevel?: string }>();
  const ignored = [...(opts.logLevel === undefined ? [] : ['-l', opts.logLevel]), ...program.args];
  return { printConfig: opts.printConfig === true, ignored };
}
