/**
 * The contrast-dev command tree. Sub-commands live in dev/commands/*.ts and are registered in
 * buildProgram (another helper adds `demo` the same way).
 *   coordinator   the development Coordinator (MeshAPI over aTLS)
 *   coordinator rotate   a new mesh CA for the running Coordinator (SIGHUP)
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { ConfigError } from '../lib/errors.js';
import { createLogger, logConfigFromEnv, type Logger } from '../lib/log.js';
import { registerCoordinatorCommand, registerRotateCommand } from './commands/coordinator.js';
import { registerDemoCommand } from './commands/demo.js';

function version(): string {
  const require = createRequire(import.meta.url);
  for (const p of ['../package.json', '../../package.json']) {
    try {
      const v = (require(p) as { version?: unknown }).version;
      if (typeof v === 'string') return v;
    } catch {
      // next candidate
    }
  }
  return '0.0.0';
}

export interface ProgramDeps {
  readonly logger: () => Logger;
}

/** The command tree; other helpers add their sub-commands here (e.g. `demo`). */
export function buildProgram(deps: ProgramDeps): Command {
  const program = new Command('contrast-dev')
    .description('Contrast development tools: a development Coordinator and local demos')
    .version(version())
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerRotateCommand(registerCoordinatorCommand(program, deps), deps);
  registerDemoCommand(program, deps);
  return program;
}

export async function run(argv: readonly string[], setLogger: (l: Logger) => void): Promise<number | undefined> {
  let logger: Logger | undefined;
  const getLogger = (): Logger => {
    logger ??= createLogger(logConfigFromEnv(process.env), { base: { program: 'contrast-dev' } });
    setLogger(logger);
    return logger;
  };
  getLogger();
  const program = buildProgram({ logger: getLogger });
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      throw new ConfigError([err.message.replace(/^error: /, '')]);
    }
    throw err;
  }
  return 0;
}
