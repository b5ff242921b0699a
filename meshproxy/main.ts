#!/usr/bin/env node
/**
 * contrast-meshproxy: the pod's service-mesh sidecar. Parses its configuration at the edge and wires
 * the services (see service.ts); nothing else lives here.
 */
import { runMain } from '../lib/main.js';
import { createLogger, logConfigFromEnv, type Logger } from '../lib/log.js';
import { parseCli } from './cli.js';
import { LOG_SUBSYSTEMS, meshConfigFromEnv, planFromEnv } from './config.js';
import { AnnotationError } from './errors.js';
import { planToJson } from './config-annotations.js';
import { VERSION } from '../lib/version.js';

let logger: Logger | undefined;

async function run(): Promise<number> {
  const version = VERSION;
  const cli = await parseCli(process.argv.slice(2));
  if (cli.exited) return 0;
  if (cli.printConfig) return printConfig();
  const logConfig = logConfigFromEnv(process.env, LOG_SUBSYSTEMS);
  logger = createLogger(logConfig, { base: { program: 'meshproxy' } });
  const config = meshConfigFromEnv(process.env);
  // Loaded only here, so that --print-config and --help start fast.
  const { runMeshproxy } = await import('./service.js');
  const code = await runMeshproxy(config, { log: logger, version, ignoredArgs: cli.ignored });
  // Drained and closed: a socket still half-way through a TLS handshake must not keep the process alive.
  setTimeout(() => process.exit(code), 1000).unref();
  return code;
}

function printConfig(): number {
  try {
    process.stdout.write(JSON.stringify(planToJson(planFromEnv(process.env))) + '\n');
    return 0;
  } catch (err) {
    if (!(err instanceof AnnotationError)) throw err;
    process.stderr.write(`contrast-meshproxy: ${err.message}\n`);
    return 2;
  }
}

runMain(run, () => logger);
