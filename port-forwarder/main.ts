#!/usr/bin/env node
/**
 * contrast-port-forwarder: a TCP relay for clusters where `kubectl port-forward` cannot reach Kata
 * pods (the port-forwarder pod then runs with a normal runtime and relays to the Kata pod's Service).
 *
 * Environment: FORWARD_HOST (required), LISTEN_PORT or LISTEN_PORTS, FORWARD_PORT, LISTEN_ADDRESS,
 * CONNECT_TIMEOUT, CONTRAST_LOG_*. Exit 0 on SIGTERM/SIGINT, 64 on bad configuration, 1 otherwise.
 */
import { parseProgramArgs, programCommand } from '../lib/cli.js';
import { createLogger, logConfigFromEnv, type Logger } from '../lib/log.js';
import { runMain } from '../lib/main.js';
import { forwarderConfigFromEnv } from './config.js';
import { FORWARDER_ENVIRONMENT } from './environment.js';
import { startRelay } from './relay.js';
import { VERSION } from '../lib/version.js';

export async function run(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  setLogger: (l: Logger) => void,
): Promise<number> {
  const program = programCommand({
    name: 'contrast-port-forwarder',
    title: 'port-forwarder',
    description: 'Relays TCP connections from LISTEN_PORT (or LISTEN_PORTS) to FORWARD_HOST.',
    environment: FORWARDER_ENVIRONMENT,
  });
  if (await parseProgramArgs(program, argv, { shortVersionAlias: true })) return 0;
  const log = createLogger(logConfigFromEnv(env), { base: { program: 'port-forwarder' } });
  setLogger(log);
  const config = forwarderConfigFromEnv(env);
  log.info({ version: VERSION }, `Contrast port-forwarder ${VERSION}`);
  const relay = await startRelay(config, log);
  for (const [i, addr] of relay.addresses.entries()) {
    const m = config.mappings[i];
    log.info(
      { listen: `${addr.address}:${addr.port}`, target: `${config.forwardHost}:${m?.forward ?? ''}` },
      'Forwarding',
    );
  }
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => {
      resolve('signal');
    });
    process.once('SIGINT', () => {
      resolve('signal');
    });
  });
  await relay.close();
  log.info({ reason: signal, ...relay.counters }, 'Port-forwarder stopped');
  return 0;
}

function main(): void {
  let logger: Logger | undefined;
  runMain(
    () =>
      run(process.argv.slice(2), process.env, (l) => {
        logger = l;
      }),
    () => logger,
  );
}

main();
