/**
 * `contrast-dev coordinator --listen HOST:PORT --manifest FILE --state-dir DIR`
 *
 * Serves the MeshAPI over aTLS until SIGTERM/SIGINT. Validators come from the manifest's reference
 * values (lib/attestation createValidators). Bad flags or manifest: ConfigError (exit 64).
 */
import type { Command } from 'commander';
import { createValidators } from '../../lib/attestation/validators.js';
import type { Logger } from '../../lib/log.js';
import { startCoordinator, parseListen, type RunningCoordinator } from '../../lib/coordinator/coordinator.js';
import { loadManifest } from '../../lib/coordinator/manifest.js';
import { ConfigError, errorMessage } from '../../lib/errors.js';

export interface CoordinatorCommandDeps {
  readonly logger: () => Logger;
  /** Resolves when the process should stop (default: first SIGTERM or SIGINT). */
  readonly stopSignal?: () => Promise<void>;
  /** Called once the Coordinator listens (tests). */
  readonly onListening?: (c: RunningCoordinator) => void;
}

export const DEFAULT_LISTEN = '0.0.0.0:7777';

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

export function registerCoordinatorCommand(program: Command, deps: CoordinatorCommandDeps): Command {
  return program
    .command('coordinator')
    .description('serve the Contrast MeshAPI (NewMeshCert) over attested TLS for local development and tests')
    .option('--listen <host:port>', 'address of the mesh API', DEFAULT_LISTEN)
    .requiredOption('--manifest <file>', 'manifest JSON: policies keyed by host data, reference values')
    .requiredOption('--state-dir <dir>', 'where root-ca.key/.pem, secrets.json, mesh-ca.pem and intermediate-ca.pem live')
    .option('--min-tls-version <version>', 'lowest TLS version accepted: 1.3, or 1.2 for older initializers', '1.3')
    .action(async (flags: { listen: string; manifest: string; stateDir: string; minTlsVersion: string }) => {
      const problems: string[] = [];
      if (flags.minTlsVersion !== '1.2' && flags.minTlsVersion !== '1.3') problems.push(`--min-tls-version=${flags.minTlsVersion}: expected 1.2 or 1.3`);
      try {
        parseListen(flags.listen);
      } catch (err) {
        if (err instanceof ConfigError) problems.push(...err.problems);
        else throw err;
      }
      if (flags.stateDir.trim() === '') problems.push('--state-dir=: expected a directory path');
      if (problems.length > 0) throw new ConfigError(problems);
      const manifest = await loadManifest(flags.manifest);
      let validators;
      try {
        validators = createValidators({
          ...(manifest.referenceValues.snp === undefined ? {} : { snp: { trustedArkPems: manifest.referenceValues.snp.trustedArkPems } }),
          ...(manifest.referenceValues.tdx === undefined ? {} : { tdx: { trustedRootPems: manifest.referenceValues.tdx.trustedRootPems } }),
          allowInsecure: manifest.referenceValues.allowInsecure,
        });
      } catch (err) {
        throw new ConfigError([`manifest ${flags.manifest}: referenceValues: ${errorMessage(err)}`]);
      }
      const logger = deps.logger();
      const coordinator = await startCoordinator({
        listen: flags.listen, manifest, stateDir: flags.stateDir, validators, logger,
        minVersion: flags.minTlsVersion === '1.2' ? 'TLSv1.2' : 'TLSv1.3',
      });
      deps.onListening?.(coordinator);
      await (deps.stopSignal ?? untilSignal)();
      logger.info('Shutting down');
      await coordinator.close();
    });
}
