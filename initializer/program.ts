/**
 * The command line: configuration at the edge, signals, and the wiring of one run. The TEE- and
 * network-specific parts arrive as ProgramDeps, so tests can run the real program end to end with any
 * certificate source. Commander is only loaded when there are arguments (the pod path has none).
 */
import type { Command } from 'commander';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { codeCacheState } from '../lib/code-cache-state.js';
import { EnvReader, type Env } from '../lib/config.js';
import { errorMessage } from '../lib/errors.js';
import { createLogger, logConfigFromEnv, parseLogConfig, type Logger } from '../lib/log.js';
import { ENV, readInitializerConfig, type InitializerConfig } from './config.js';
import type { DefaultDenyRemover } from './default-deny.js';
import { FILES, MODES } from './outputs.js';
import { DEFAULT_SECRETS_DIR } from '../lib/pod-layout.js';
import { OutputWriteError } from './errors.js';
import { ensureDir, writeFileAtomic } from '../lib/fs-atomic.js';
import {
  checkSecureVolumeAvailable,
  openSecureVolume,
  STATE_MOUNT_POINT,
  type OpenVolume,
  type VolumeSystem,
} from './secure-volume.js';
import type { LuksProfile } from './secure-volume-luks.js';
import { ATTEMPT_TIMEOUT_MS, runInitializer, type CertRequest } from './initializer.js';
import { readRenewalConfig, type RenewalConfig } from './renewal-config.js';
import { VERSION } from '../lib/version.js';
import { generateWorkloadKey, type WorkloadKey } from './workload-key.js';

/** What a concrete program plugs in: attestation settings and the certificate request. */
export interface ProgramDeps<A> {
  /** Reads attestation settings, pushing problems into the reader (lib/attestation's readAttestationConfig). */
  readAttestation(reader: EnvReader): A;
  /** For the start-up line: which TEE is used. */
  describeAttestation?(attestation: A): Record<string, unknown>;
  /** Builds the request for this process (issuer, key, target) once; it is called once per attempt. */
  makeRequest(ctx: {
    readonly attestation: A;
    readonly config: InitializerConfig;
    readonly key: WorkloadKey;
    readonly logger: Logger;
  }): Promise<CertRequest>;
  defaultDeny?(): DefaultDenyRemover;
  /** Parts of the encrypted volume (secure-pv) tests replace; the default is the real system at /state. */
  secureVolume?(): SecureVolumeDeps;
  /** Adds sub-commands (`report`, `report inspect`) to the command line. */
  registerCommands?(program: Command, tools: CommandTools): void | Promise<void>;
}

export interface SecureVolumeDeps {
  readonly system?: VolumeSystem;
  readonly profile?: LuksProfile;
  readonly mountPoint?: string;
  readonly mapperDir?: string;
  readonly headerDir?: string;
  /** PATH searched for the tools (default: the environment's). */
  readonly path?: string;
}

/** What sub-commands get from the program: the environment and a logger made on first use. */
export interface CommandTools {
  readonly env: Env;
  logger(): Logger;
}

export interface ProgramContext {
  readonly argv: readonly string[];
  readonly env: Env;
  /** Receives the logger as soon as it exists, for runMain's ERROR line. */
  readonly onLogger?: (logger: Logger) => void;
  /** Signals that end the wait; default SIGTERM and SIGINT. */
  readonly signals?: readonly NodeJS.Signals[];
}

/** Runs the command line. Resolves with the exit code; rejects with the fatal error. */
export async function runProgram<A>(deps: ProgramDeps<A>, ctx: ProgramContext): Promise<number> {
  const args = ctx.argv.slice(2);
  if (args.length === 0) {
    await runDefault(deps, ctx);
    return 0;
  }
  const [{ parseProgramArgs, programCommand }, { INITIALIZER_ENVIRONMENT }] = await Promise.all([
    import('../lib/cli.js'),
    import('./environment.js'),
  ]);
  const program = programCommand({
    name: 'initializer',
    title: 'initializer',
    description: 'Attests this pod to the Contrast Coordinator and writes its mesh certificates and workload secret.',
    environment: INITIALIZER_ENVIRONMENT,
    versionFooter: 'Report issues at https://github.com/edgelesssys/contrast/issues',
  }).action(async () => {
    await runDefault(deps, ctx);
  });
  let commandLogger: Logger | undefined;
  const tools: CommandTools = {
    env: ctx.env,
    logger: () => {
      if (commandLogger === undefined) {
        commandLogger = createLogger(logConfigFromEnv(ctx.env));
        ctx.onLogger?.(commandLogger);
      }
      return commandLogger;
    },
  };
  await deps.registerCommands?.(program, tools);
  program
    .command('cryptsetup')
    .description(
      'set up the LUKS-encrypted block device at <device-path> with the workload secret seed as key, mount it at <mount-point>, write the done file, and keep it mounted until SIGTERM',
    )
    .requiredOption('-d, --device-path <path>', 'path to the volume device to be encrypted')
    .requiredOption('-m, --mount-point <path>', 'mount point of decrypted mapper device')
    .action(async (opts: { devicePath: string; mountPoint: string }) => {
      await runCryptsetupCommand(deps, ctx, tools.logger(), opts);
    });
  await parseProgramArgs(program, args, { shortVersionAlias: true });
  return 0;
}

async function runDefault<A>(deps: ProgramDeps<A>, ctx: ProgramContext): Promise<void> {
  const reader = new EnvReader(ctx.env);
  const log = parseLogConfig(ctx.env);
  for (const p of log.problems) reader.problem(p);
  const logger = createLogger(log.config);
  ctx.onLogger?.(logger);
  logger.info({ logLevel: log.config.level }, 'Logger initialized');

  const config = readInitializerConfig(reader);
  const renewal = readRenewalConfig(reader, config.tlsDir);
  const attestation = deps.readAttestation(reader);
  reader.finish({});
  logger.info(
    {
      version: VERSION,
      coordinator: config.coordinator.target,
      tlsDir: config.tlsDir,
      secretsDir: config.secretsDir,
      doneFile: config.doneFile,
      retryIntervalMs: config.retryIntervalMs,
      ...(renewal === undefined
        ? {}
        : { renewalIntervalMs: renewal.intervalMs, renewalAt: renewal.at, renewalSignalFile: renewal.signalFile }),
      ...deps.describeAttestation?.(attestation),
      ...withCodeCache(),
    },
    'Initializer started',
  );

  const volumeDeps = deps.secureVolume?.() ?? {};
  const device = config.cryptsetupDevice;
  if (device !== undefined) await checkSecureVolumeAvailable(device, volumeDeps.path ?? ctx.env['PATH']);
  const key = generateWorkloadKey();
  const controller = new AbortController();
  let volume: OpenVolume | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    controller.abort(`received ${sig}`);
    // Backstop: a stuck handle must not keep an interrupted pod waiting (unless a volume is being closed).
    if (volume === undefined) setTimeout(() => process.exit(), 2000).unref();
  };
  const signals = ctx.signals ?? ['SIGTERM', 'SIGINT'];
  for (const s of signals) process.once(s, onSignal);
  let request: CertRequest;
  let sidecar: Awaited<ReturnType<typeof renewalSidecar>> | undefined;
  let certs: Awaited<ReturnType<typeof runInitializer>>;
  try {
    request = await deps.makeRequest({ attestation, config, key, logger });
    sidecar = renewal === undefined ? undefined : await renewalSidecar(config, renewal, key);
    certs = await runInitializer({
      config,
      key,
      request,
      logger,
      signal: controller.signal,
      ...(config.serviceMeshDisabled ? { defaultDeny: deps.defaultDeny?.() ?? (await iptablesRemover(logger)) } : {}),
      ...(sidecar === undefined ? {} : { writeTls: sidecar.writeFirst }),
      ...(device === undefined
        ? {}
        : {
            beforeDone: async () => {
              logger.info('Setting up encrypted mount');
              volume = await openSecureVolume({
                devicePath: device,
                mountPoint: volumeDeps.mountPoint ?? STATE_MOUNT_POINT,
                keyFile: join(config.secretsDir, FILES.workloadSecretSeed),
                logger,
                ...volumeDeps,
              });
              logger.info('Encrypted mount setup done');
            },
          }),
    });
  } catch (err) {
    // The volume opened but what followed (the done file) failed: nothing stays mounted.
    if (volume !== undefined) {
      await volume.close().catch((closeErr: unknown) => {
        logger.error({ err: errorMessage(closeErr) }, 'Closing the encrypted volume');
      });
    }
    for (const s of signals) process.removeListener(s, onSignal);
    throw err;
  }
  try {
    // Native-sidecar duties after the done file run until SIGTERM/SIGINT, side by side: holding the
    // encrypted volume and renewing the certificates. One that fails ends the other (the volume is
    // closed), then its error is the program's.
    const duties = [
      volume === undefined ? undefined : holdVolume(volume, controller.signal, logger),
      sidecar?.run({ certs, request, logger, signal: controller.signal }),
    ]
      .filter((d): d is Promise<void> => d !== undefined)
      .map((d) =>
        d.catch((err: unknown) => {
          controller.abort('a sidecar duty failed');
          throw err;
        }),
      );
    const failed = (await Promise.allSettled(duties)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  } finally {
    for (const s of signals) process.removeListener(s, onSignal);
  }
}

/**
 * The initializer keeps running as a native sidecar while the volume is mounted (the Kata agent would
 * unmount what an exited container mounted); SIGTERM unmounts and closes it.
 */
export async function holdVolume(volume: OpenVolume, signal: AbortSignal, logger: Logger): Promise<void> {
  logger.info('Idling to keep propagated cryptsetup device mounts alive');
  if (!signal.aborted) {
    // A signal listener does not keep Node's event loop alive: a timer does, until the signal.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    await new Promise<void>((resolve) => {
      signal.addEventListener(
        'abort',
        () => {
          resolve();
        },
        { once: true },
      );
    });
    clearInterval(keepAlive);
  }
  logger.info({ reason: String(signal.reason) }, 'Unmounting and closing the encrypted volume');
  await volume.close();
  logger.info('Encrypted volume closed');
}

/** `initializer cryptsetup -d <device> -m <mount point>`: the volume alone, with the seed an earlier run wrote. */
async function runCryptsetupCommand<A>(
  deps: ProgramDeps<A>,
  ctx: ProgramContext,
  logger: Logger,
  opts: { devicePath: string; mountPoint: string },
): Promise<void> {
  const reader = new EnvReader(ctx.env);
  const secretsDir = reader.string(ENV.secretsDir, DEFAULT_SECRETS_DIR);
  const doneFile = reader.string(ENV.doneFile, '/done');
  for (const [name, value] of [
    [ENV.secretsDir, secretsDir],
    [ENV.doneFile, doneFile],
    ['--mount-point', opts.mountPoint],
  ] as const) {
    if (!value.startsWith('/')) reader.problem(`${name}=${value}: expected an absolute path`);
  }
  reader.finish({});
  const volumeDeps = deps.secureVolume?.() ?? {};
  await checkSecureVolumeAvailable(opts.devicePath, volumeDeps.path ?? ctx.env['PATH']);
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    controller.abort(`received ${sig}`);
  };
  const signals = ctx.signals ?? ['SIGTERM', 'SIGINT'];
  for (const s of signals) process.once(s, onSignal);
  try {
    await rm(doneFile, { force: true }).catch((err: unknown) => {
      throw new OutputWriteError(doneFile, { cause: err });
    });
    const volume = await openSecureVolume({
      ...volumeDeps,
      devicePath: opts.devicePath,
      mountPoint: opts.mountPoint,
      keyFile: join(secretsDir, FILES.workloadSecretSeed),
      logger,
    });
    try {
      await ensureDir(dirname(doneFile));
      await writeFileAtomic(doneFile, '', { mode: MODES.done, skipIfSame: false });
    } catch (err) {
      await volume.close().catch(() => undefined);
      throw new OutputWriteError(doneFile, { cause: err });
    }
    await holdVolume(volume, controller.signal, logger);
  } finally {
    for (const s of signals) process.removeListener(s, onSignal);
  }
}

/**
 * Renewal mode (CONTRAST_RENEWAL_INTERVAL): the first set is written as generation (current + 1) of the
 * TLS directory, then the renewal loop runs until the signal ends it. Loaded only in this mode.
 */
async function renewalSidecar(
  config: InitializerConfig,
  renewal: RenewalConfig,
  key: WorkloadKey,
): Promise<{
  writeFirst: (files: readonly { path: string; data: string | Buffer; mode: number }[]) => Promise<string[]>;
  run(ctx: {
    certs: Awaited<ReturnType<typeof runInitializer>>;
    request: CertRequest;
    logger: Logger;
    signal: AbortSignal;
  }): Promise<void>;
}> {
  const [{ currentGeneration, writeGeneration }, { generationWriter, runRenewal, tlsFiles }, { fileTrigger }] =
    await Promise.all([import('./tls-generation.js'), import('./renewal.js'), import('./renewal-trigger.js')]);
  const first = (await currentGeneration(config.tlsDir)) + 1;
  return {
    writeFirst: (files) => writeGeneration(config.tlsDir, tlsFiles(files), first),
    run: ({ certs, request, logger, signal }) =>
      runRenewal({
        renewal,
        retryIntervalMs: config.retryIntervalMs,
        target: config.coordinator.target,
        key,
        request,
        logger,
        signal,
        initial: { certs, generation: first },
        write: generationWriter(config, key.pkcs8Pem),
        trigger: fileTrigger(renewal.signalFile),
        attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
      }),
  };
}

/** iptables (and node:child_process) are loaded only for pods without a service mesh. */
async function iptablesRemover(logger: Logger): Promise<DefaultDenyRemover> {
  const { iptablesDefaultDenyRemover } = await import('./default-deny.js');
  return iptablesDefaultDenyRemover({ logger });
}

/** From a code-cached bundle: whether V8 took the bundle's code cache (a slower start when not). */
function withCodeCache(): { codeCache?: string } {
  const state = codeCacheState();
  return state === undefined ? {} : { codeCache: state };
}
