/**
 * The contrast-dev command tree. Sub-commands live in dev/commands/*.ts and are registered in
 * buildProgram (another helper adds `demo` the same way).
 *   coordinator   the development Coordinator (MeshAPI over aTLS)
 *   coordinator rotate   a new mesh CA for the running Coordinator (SIGHUP)
 */
import type { Command } from 'commander';
import { parseProgramArgs, programCommand } from '../lib/cli.js';
import { createLogger, logConfigFromEnv, type Logger } from '../lib/log.js';
import { registerCoordinatorCommand, registerRotateCommand } from './commands/coordinator.js';
import { registerDemoCommand } from './commands/demo.js';
import { DEV_ENVIRONMENT } from './environment.js';

export interface ProgramDeps {
  readonly logger: () => Logger;
}

/** The command tree; other helpers add their sub-commands here (e.g. `demo`). */
export function buildProgram(deps: ProgramDeps): Command {
  const program = programCommand({
    name: 'contrast-dev',
    title: 'dev',
    description: 'Contrast development tools: a development Coordinator and local demos.',
    environment: DEV_ENVIRONMENT,
  });
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
  const args = argv.slice(2);
  // Without arguments: the help, exit 0 (there is no default command to run).
  if (args.length === 0) {
    program.outputHelp();
    return 0;
  }
  await parseProgramArgs(program, args);
  return 0;
}
