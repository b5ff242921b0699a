/**
 * contrast-initializer: wires the real parts into the program. Attestation and the MeshAPI client are
 * imported only on the path that needs them, so that `--version` and configuration errors stay cheap
 * and the pod path loads nothing else. main.ts runs it.
 */
import { readAttestationConfig, type AttestationConfig } from '../lib/attestation/config.js';
import { subsystemLogger, type Logger } from '../lib/log.js';
import { runMain } from '../lib/main.js';
import { runProgram } from './program.js';

export function main(): void {
  let logger: Logger | undefined;
  runMain(
    () =>
      runProgram<AttestationConfig>(
        {
          readAttestation: readAttestationConfig,
          describeAttestation: (config) => ({ attestation: config.mode }),
          async makeRequest({ attestation, config, key, logger: log }) {
            const [{ createIssuer }, { newMeshCert }] = await Promise.all([
              import('../lib/attestation/platform.js'),
              import('../lib/meshapi/client.js'),
            ]);
            const issuer = await createIssuer(attestation, subsystemLogger(log, 'issuer'));
            const atlsLogger = subsystemLogger(log, 'atlscredentials');
            return (signal) =>
              newMeshCert({
                target: config.coordinator.target,
                issuer,
                privateKey: key.privateKey,
                signal,
                logger: atlsLogger,
                tlsGroups: config.tlsGroups,
              });
          },
          async registerCommands(program, tools) {
            const { registerReportCommand } = await import('./report-command.js');
            registerReportCommand(program, { env: tools.env, logger: () => tools.logger() });
          },
        },
        { argv: process.argv, env: process.env, onLogger: (l) => (logger = l) },
      ),
    () => logger,
  );
}
