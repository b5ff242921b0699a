/**
 * The command line: configuration at the edge, signals, and the wiring of one run. The TEE- and
 * network-specific parts arrive as ProgramDeps, so tests can run the real program end to end with any
 * certificate source. Commander is only loaded when there are arguments (the pod path has none).
 */
import type { Command } from 'commander';
import { codeCacheState } from '../lib/code-cache-state.js';
import { EnvReader, type Env } from '../lib/config.js';
import { createLogger, logConfigFromEnv, parseLogConfig, type Logger } from '../lib/log.js';
import { readInitializerConfig, type InitializerConfig } from './config.js';
import type { DefaultDenyRemover } from './default-deny.js';
import { ATTEMPT_TIMEOUT_MS, runInitializer, type CertRequest } from './initializer.js';
import { readRenewalConfig, type RenewalConfig } from './renewal-config.js';
import { packageVersion } from './version.js';
import { generateWorkloadKey, type WorkloadKey } from './workload-key.js';

/** What a concrete program plugs in: attestation settings and the certificate request. */
export interface ProgramDeps<A> {
  /** Reads attestation settings, pushing problems into the reader (lib/attestation's readAttestationConfig). */
  readAttestation(reader: EnvReader): A;
  /** For the start-up line: which TEE is used. */
  describeAttestation?(attestation: A): Record<string, unknown>;
  /** Builds the request for this process (issuer, key, target) once; it is called once per attempt. */
  makeRequest(ctx: { readonly attestation: A; readonly config: InitializerConfig; readonly key: WorkloadKey; readonly logger: Logger }): Promise<CertRequest>;
  defaultDeny?(): DefaultDenyRemover;
  /** Adds sub-commands (`report`, `report inspect`) to the command line. */
  registerCommands?(program: Command, tools: CommandTools): void | Promise<void>;
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
  const { Command } = await import('commander');
  const version = packageVersion();
  const program = new Command('initializer')
    .description('Attests this pod to the Contrast Coordinator and writes its mesh certificates and workload secret.')
    .version(`Contrast initializer ${version}\nReport issues at https://github.com/edgelesssys/contrast/issues`, '-v, --version')
    .action(async () => {
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
  await program.parseAsync([...ctx.argv]);
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
      version: packageVersion(),
      coordinator: config.coordinator.target,
      tlsDir: config.tlsDir,
      secretsDir: config.secretsDir,
      doneFile: config.doneFile,
      retryIntervalMs: config.retryIntervalMs,
      ...(renewal === undefined ? {} : { renewalIntervalMs: renewal.intervalMs, renewalAt: renewal.at, renewalSignalFile: renewal.signalFile }),
      ...deps.describeAttestation?.(attestation),
      ...withCodeCache(),
    },
    'Initializer started',
  );

  const key = generateWorkloadKey();
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    controller.abort(`received ${sig}`);
    // Backstop: a stuck handle must not keep an interrupted pod waiting.
    setTimeout(() => process.exit(), 2000).unref();
  };
  const signals = ctx.signals ?? ['SIGTERM', 'SIGINT'];
  for (const s of signals) process.once(s, onSignal);
  try {
    const request = await deps.makeRequest({ attestation, config, key, logger });
    const sidecar = renewal === undefined ? undefined : await renewalSidecar(config, renewal, key);
    const certs = await runInitializer({
      config,
      key,
      request,
      logger,
      signal: controller.signal,
      ...(config.serviceMeshDisabled ? { defaultDeny: deps.defaultDeny?.() ?? await iptablesRemover(logger) } : {}),
      ...(sidecar === undefined ? {} : { writeTls: sidecar.writeFirst }),
    });
    // Native-sidecar duties after the done file run until SIGTERM/SIGINT, side by side.
    await Promise.all([
      sidecar?.run({ certs, request, logger, signal: controller.signal }),
    ]);
  } finally {
    for (const s of signals) process.removeListener(s, onSignal);
  }
}

/**
 * Renewal mode (CONTRAST_RENEWAL_INTERVAL): the first set is written as generation (current + 1) of the
 * TLS directory, then the renewal loop runs until the signal ends it. Loaded only in this mode.
 */
async function renewalSidecar(config: InitializerConfig, renewal: RenewalConfig, key: WorkloadKey): Promise<{
  writeFirst: (files: readonly { path: string; data: string | Buffer; mode: number }[]) => Promise<string[]>;
  run(ctx: { certs: Awaited<ReturnType<typeof runInitializer>>; request: CertRequest; logger: Logger; signal: AbortSignal }): Promise<void>;
}> {
  const [{ currentGeneration, writeGeneration }, { generationWriter, runRenewal, tlsFiles }, { fileTrigger }] = await Promise.all([
    import('./tls-generation.js'),
    import('./renewal.js'),
    import('./renewal-trigger.js'),
  ]);
  const first = (await currentGeneration(config.tlsDir)) + 1;
  return {
    writeFirst: (files) => writeGeneration(config.tlsDir, tlsFiles(files), first),
    run: ({ certs, request, logger, signal }) => runRenewal({
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
