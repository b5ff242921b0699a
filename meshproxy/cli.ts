/**
 * Command line of contrast-meshproxy. The Envoy arguments that upstream pod specs pass (`-l debug`,
 * `--component-log-level <spec>`) are accepted and ignored: the log level comes from
 * CONTRAST_LOG_LEVEL. Any other flag or argument is a configuration error (lib/cli.ts).
 */
import { parseProgramArgs, programCommand } from '../lib/cli.js';
import { MESHPROXY_ENVIRONMENT } from './environment.js';

export interface CliOptions {
  /** --help or --version was printed: exit 0. */
  readonly exited: boolean;
  readonly printConfig: boolean;
  /** Arguments accepted for compatibility and not used. */
  readonly ignored: readonly string[];
}

export async function parseCli(argv: readonly string[]): Promise<CliOptions> {
  const program = programCommand({
    name: 'contrast-meshproxy',
    title: 'meshproxy',
    description: 'Service-mesh sidecar: mutual TLS for the pod per the servicemesh-* annotations.',
    environment: MESHPROXY_ENVIRONMENT,
  })
    .option('--print-config', 'print the parsed plan as one JSON object and exit (2 on a bad annotation)')
    .option('-l, --log-level <level>', 'accepted for Envoy compatibility; ignored (use CONTRAST_LOG_LEVEL)')
    .option('--component-log-level <spec>', 'accepted for Envoy compatibility; ignored');
  const exited = await parseProgramArgs(program, argv);
  const opts = program.opts<{ printConfig?: boolean; logLevel?: string; componentLogLevel?: string }>();
  const ignored = [
    ...(opts.logLevel === undefined ? [] : ['-l', opts.logLevel]),
    ...(opts.componentLogLevel === undefined ? [] : ['--component-log-level', opts.componentLogLevel]),
  ];
  return { exited, printConfig: opts.printConfig === true, ignored };
}
