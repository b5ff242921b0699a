/**
 * `contrast-dev coordinator --listen HOST:PORT --manifest FILE --state-dir DIR`
 *
 * Serves the MeshAPI over aTLS until SIGTERM/SIGINT. Validators come from the manifest's reference
 * values (lib/attestation createValidators). Bad flags or manifest: ConfigError (exit 64).
 * SIGHUP rotates the mesh CA (new key, same root): what a manifest update or a recovery does upstream.
 * `contrast-dev coordinator rotate --state-dir DIR` sends that SIGHUP to the Coordinator of DIR (its pid
 * is in DIR/coordinator.pid while it runs) and waits until DIR/mesh-ca.pem has changed.
 */
import type { Command } from 'commander';
import { X509Certificate } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../../lib/errors.js';
import { writeFileAtomic } from '../../lib/fs-atomic.js';
import { createValidators } from '../../lib/attestation/validators.js';
import type { Logger } from '../../lib/log.js';
import { startCoordinator, parseListen, type RunningCoordinator } from '../../lib/coordinator/coordinator.js';
import { loadManifest } from '../../lib/coordinator/manifest.js';
import { ConfigError, ContrastError, errorMessage } from '../../lib/errors.js';
import { parseDuration } from '../../lib/config.js';

export interface CoordinatorCommandDeps {
  readonly logger: () => Logger;
  /** Resolves when the process should stop (default: first SIGTERM or SIGINT). */
  readonly stopSignal?: () => Promise<void>;
  /** Called once the Coordinator listens (tests). */
  readonly onListening?: (c: RunningCoordinator) => void;
  /** Where `rotate` prints (default: stdout). */
  readonly out?: (line: string) => void;
}

/** The running Coordinator's pid, in its state directory. */
export const PID_FILE = 'coordinator.pid';

/** Ends with the returned function; calls `rotate` on every SIGHUP until then. */
function onSighup(rotate: () => void): () => void {
  process.on('SIGHUP', rotate);
  return () => {
    process.off('SIGHUP', rotate);
  };
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
    .option('--manifest <file>', 'manifest JSON: policies keyed by host data, reference values (required)')
    .option(
      '--state-dir <dir>',
      'where root-ca.key/.pem, secrets.json, mesh-ca.pem, intermediate-ca.pem and coordinator.pid live (required)',
    )
    .option('--min-tls-version <version>', 'lowest TLS version accepted: 1.3, or 1.2 for older initializers', '1.3')
    .action(async (flags: { listen: string; manifest?: string; stateDir?: string; minTlsVersion: string }) => {
      const problems: string[] = [];
      // Checked here rather than by commander, so that `coordinator rotate` does not need them.
      if (flags.manifest === undefined) problems.push("required option '--manifest <file>' not specified");
      if (flags.stateDir === undefined) problems.push("required option '--state-dir <dir>' not specified");
      if (flags.manifest === undefined || flags.stateDir === undefined) throw new ConfigError(problems);
      if (flags.minTlsVersion !== '1.2' && flags.minTlsVersion !== '1.3')
        problems.push(`--min-tls-version=${flags.minTlsVersion}: expected 1.2 or 1.3`);
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
          ...(manifest.referenceValues.snp === undefined
            ? {}
            : { snp: { trustedArkPems: manifest.referenceValues.snp.trustedArkPems } }),
          ...(manifest.referenceValues.tdx === undefined
            ? {}
            : { tdx: { trustedRootPems: manifest.referenceValues.tdx.trustedRootPems } }),
          allowInsecure: manifest.referenceValues.allowInsecure,
        });
      } catch (err) {
        throw new ConfigError([`manifest ${flags.manifest}: referenceValues: ${errorMessage(err)}`]);
      }
      const logger = deps.logger();
      const stateDir = flags.stateDir;
      const coordinator = await startCoordinator({
        listen: flags.listen,
        manifest,
        stateDir,
        validators,
        logger,
        minVersion: flags.minTlsVersion === '1.2' ? 'TLSv1.2' : 'TLSv1.3',
      });
      const stopRotating = onSighup(() => {
        coordinator.rotate().catch((err: unknown) => {
          logger.error({ err: describeError(err) }, 'Mesh CA rotation failed; the previous mesh CA stays');
        });
      });
      // Written once SIGHUP is handled: whoever reads the pid may signal at once.
      await writeFileAtomic(join(stateDir, PID_FILE), `${process.pid}\n`, { mode: 0o644, skipIfSame: false });
      deps.onListening?.(coordinator);
      try {
        await (deps.stopSignal ?? untilSignal)();
      } finally {
        stopRotating();
        logger.info('Shutting down');
        await rm(join(stateDir, PID_FILE), { force: true });
        await coordinator.close();
      }
    });
}

/** `coordinator rotate --state-dir DIR [--timeout 10s]`: SIGHUP to DIR's Coordinator, wait for the new mesh CA. */
export function registerRotateCommand(coordinator: Command, deps: CoordinatorCommandDeps): Command {
  return coordinator
    .command('rotate')
    .description("rotate the running Coordinator's mesh CA (new key, same root), as a manifest update or recovery does")
    .option('--state-dir <dir>', 'the --state-dir of the running Coordinator (required)')
    .option('--timeout <duration>', 'how long to wait for the new mesh CA', '10s')
    .action(async (_opts: unknown, command: Command) => {
      // `coordinator` has a --state-dir of its own and commander gives it the value: read both levels.
      const flags = command.optsWithGlobals<{ stateDir?: string; timeout: string }>();
      if (flags.stateDir === undefined) throw new ConfigError(["required option '--state-dir <dir>' not specified"]);
      const timeoutMs = parseDuration(flags.timeout);
      if (timeoutMs === undefined || timeoutMs <= 0)
        throw new ConfigError([`--timeout=${flags.timeout}: expected a duration such as 10s`]);
      const pid = await runningPid(flags.stateDir);
      const caFile = join(flags.stateDir, 'mesh-ca.pem');
      const before = await readFile(caFile, 'utf8').catch(() => '');
      process.kill(pid, 'SIGHUP');
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await readFile(caFile, 'utf8').catch(() => '');
        if (now !== '' && now !== before) {
          const out =
            deps.out ??
            ((l: string) => {
              process.stdout.write(`${l}\n`);
            });
          out(
            `mesh CA rotated: ${before === '' ? '(none)' : new X509Certificate(before).fingerprint256} -> ${new X509Certificate(now).fingerprint256}`,
          );
          return;
        }
        if (Date.now() > deadline)
          throw new RotateError(
            `the Coordinator (pid ${pid}) did not write a new ${caFile} within ${flags.timeout}; see its log`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    });
}

export class RotateError extends ContrastError {
  readonly code = 'ERR_DEV_ROTATE';
}

/** The pid in DIR/coordinator.pid, checked to be a running contrast-dev coordinator. */
async function runningPid(stateDir: string): Promise<number> {
  const file = join(stateDir, PID_FILE);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const pid = text !== undefined && /^\d{1,9}\n?$/.test(text) ? Number(text) : NaN;
  if (!(pid > 1))
    throw new ConfigError([
      `--state-dir=${stateDir}: expected the state directory of a running Coordinator (no valid ${PID_FILE})`,
    ]);
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.split('\0').includes('coordinator')) {
    throw new RotateError(
      `no Coordinator runs for ${stateDir}: pid ${pid} from ${file} is ${cmdline === '' ? 'gone' : 'another program'} (stale pid file)`,
    );
  }
  return pid;
}
