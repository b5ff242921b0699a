/**
 * One shape for every program's command line (commander):
 *   - `-V, --version` prints `Contrast <program> <version>` and exits 0 (`-v` too where upstream has it);
 *   - `-h, --help` lists the options and then every environment variable the program reads, with its
 *     default and meaning (the same list docs/configuration.md is checked against);
 *   - an unknown flag, a missing or excess argument is a ConfigError: runMain logs one ERROR line
 *     (`ERR_CONFIG`) and exits 64; commander itself writes nothing to stderr.
 *
 * Loaded only when a program has arguments (the initializer's pod path has none and skips commander).
 */
import { Command, CommanderError } from 'commander';
import { REQUIRED, UNSET, type EnvVarDoc } from './environment.js';
import { ConfigError } from './errors.js';
import { VERSION } from './version.js';

export interface ProgramSpec {
  /** The command name shown in usage lines, e.g. `contrast-meshproxy`. */
  readonly name: string;
  /** The banner name: `Contrast <title> <version>`. */
  readonly title: string;
  readonly description: string;
  readonly environment: readonly EnvVarDoc[];
  /** Lines printed after the version banner (e.g. where to report issues). */
  readonly versionFooter?: string;
}

/** `NAME  default  meaning` lines under an "Environment variables:" heading, aligned like commander's help. */
export function environmentHelp(environment: readonly EnvVarDoc[]): string {
  if (environment.length === 0) return '';
  const width = Math.max(...environment.map((v) => v.name.length));
  const lines = environment.map((v) => `  ${v.name.padEnd(width)}  ${v.meaning}${defaultNote(v.default)}`);
  return `\nEnvironment variables:\n${lines.join('\n')}\n`;
}

function defaultNote(value: string): string {
  if (value === REQUIRED) return ' (required)';
  if (value === UNSET) return '';
  return ` (default: ${value === '' ? '""' : value})`;
}

/**
 * The program's root command with the common options and behaviour. Sub-commands added later with
 * `.command()` inherit the error handling and output settings.
 */
export function programCommand(spec: ProgramSpec): Command {
  const program = new Command(spec.name)
    .description(spec.description)
    .version(
      `Contrast ${spec.title} ${VERSION}${spec.versionFooter === undefined ? '' : `\n${spec.versionFooter}`}`,
      '-V, --version',
      'print the version and exit',
    )
    .helpOption('-h, --help', 'print this help, with the environment variables, and exit')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', environmentHelp(spec.environment));
  return program;
}

/**
 * Parses `argv` (user arguments only, without node and the script). Resolves true when help or the
 * version was printed (the caller exits 0), false when an action ran or none was chosen; rejects with
 * a ConfigError on a usage error, and with whatever an action threw.
 */
export async function parseProgramArgs(
  program: Command,
  argv: readonly string[],
  options: { shortVersionAlias?: boolean } = {},
): Promise<boolean> {
  // `-v` as well, where upstream's cobra programs accept it.
  const args = options.shortVersionAlias === true ? argv.map((a) => (a === '-v' ? '-V' : a)) : [...argv];
  try {
    await program.parseAsync(args, { from: 'user' });
    return false;
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.exitCode === 0) return true;
    throw usageError(program, err);
  }
}

function usageError(program: Command, err: CommanderError): ConfigError {
  const what = err.message
    .replace(/^error: /, '')
    .replace(/\n+/g, ' ')
    .trim();
  return new ConfigError([`${program.name()}: ${what} (see ${program.name()} --help)`]);
}
