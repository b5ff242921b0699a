/**
 * The one logger of the suite: pino, writing synchronously to stderr.
 *
 * Environment (upstream names and semantics):
 * - CONTRAST_LOG_LEVEL: debug | info (default, also empty) | warn | error, case-insensitive.
 * - CONTRAST_LOG_FORMAT: text (default, also empty: slog-like `key=value` lines) | json, case-insensitive.
 *   Any other value falls back to text, as upstream does, and the logger's first line is a WARN
 *   naming the value.
 * - CONTRAST_LOG_SUBSYSTEMS: `*` or a comma list. A named subsystem logs WARN and above unless listed.
 *
 * No transport worker thread is started: short-lived programs must start fast, and container logs
 * want lines in the order they happened.
 */
import { pino, type Logger as PinoLogger, type DestinationStream, type LevelWithSilent } from 'pino';
import { writeSync } from 'node:fs';
import { ConfigError } from './errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';

export interface LogConfig {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** `'*'` enables every subsystem at `level`; otherwise the listed names. */
  readonly subsystems: '*' | ReadonlySet<string>;
  /** Settings that were not understood but are not fatal; createLogger logs each once at WARN. */
  readonly warnings?: readonly string[];
}

export type Logger = PinoLogger;

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Paths whose values never reach a log line. */
export const REDACTED_PATHS: readonly string[] = [
  'key',
  'privateKey',
  'workloadSecret',
  'seed',
  'secret',
  '*.key',
  '*.privateKey',
  '*.workloadSecret',
  '*.seed',
  '*.secret',
];

/**
 * Parses the logging variables; problems are returned, not thrown, so callers can report all at once.
 * With `knownSubsystems`, a name in CONTRAST_LOG_SUBSYSTEMS that the program does not have is a problem
 * (a typo would otherwise silently keep that subsystem at WARN).
 */
export function parseLogConfig(
  env: NodeJS.ProcessEnv,
  knownSubsystems?: readonly string[],
): { config: LogConfig; problems: string[] } {
  const problems: string[] = [];
  const rawLevel = (env['CONTRAST_LOG_LEVEL'] ?? '').trim().toLowerCase();
  let level: LogLevel = 'info';
  if (rawLevel !== '') {
    if ((LEVELS as readonly string[]).includes(rawLevel)) level = rawLevel as LogLevel;
    else
      problems.push(
        `CONTRAST_LOG_LEVEL=${env['CONTRAST_LOG_LEVEL'] ?? ''}: invalid log level, expected one of debug, info, warn, error`,
      );
  }
  const rawFormat = (env['CONTRAST_LOG_FORMAT'] ?? '').trim().toLowerCase();
  const format: LogFormat = rawFormat === 'json' ? 'json' : 'text';
  const warnings: string[] = [];
  if (rawFormat !== '' && rawFormat !== 'json' && rawFormat !== 'text') {
    warnings.push(`CONTRAST_LOG_FORMAT=${env['CONTRAST_LOG_FORMAT'] ?? ''} is not json or text: logging as text`);
  }
  const rawSubsystems = (env['CONTRAST_LOG_SUBSYSTEMS'] ?? '').trim();
  const subsystems: LogConfig['subsystems'] =
    rawSubsystems === '*'
      ? '*'
      : new Set(
          rawSubsystems
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
        );
  if (knownSubsystems !== undefined && subsystems !== '*') {
    const unknown = [...subsystems].filter((s) => !knownSubsystems.includes(s));
    if (unknown.length > 0) {
      problems.push(
        `CONTRAST_LOG_SUBSYSTEMS=${env['CONTRAST_LOG_SUBSYSTEMS'] ?? ''}: unknown subsystem${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, expected * or a comma list of ${knownSubsystems.join(', ')}`,
      );
    }
  }
  return { config: { level, format, subsystems, ...(warnings.length > 0 ? { warnings } : {}) }, problems };
}

/** Like parseLogConfig, but throws a ConfigError. */
export function logConfigFromEnv(env: NodeJS.ProcessEnv, knownSubsystems?: readonly string[]): LogConfig {
  const { config, problems } = parseLogConfig(env, knownSubsystems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

export interface LoggerOptions {
  /** Where lines go; default: file descriptor 2, written synchronously. */
  readonly destination?: DestinationStream;
  /** Bound to every line, e.g. `{ program: 'initializer' }`. */
  readonly base?: Record<string, unknown>;
}

/** Creates the root logger of a program. */
export function createLogger(config: LogConfig, options: LoggerOptions = {}): Logger {
  const sink = options.destination ?? stderrSink();
  const destination = config.format === 'text' ? textSink(sink) : sink;
  const root = pino(
    {
      level: config.level,
      base: options.base ?? null,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label.toUpperCase() }) },
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    },
    destination,
  );
  // pino children inherit from their parent's object, so every descendant sees the configuration.
  Object.defineProperty(root, kConfig, { value: config, enumerable: false });
  for (const warning of config.warnings ?? []) root.warn(warning);
  return root;
}

const kConfig = Symbol('contrast.logConfig');

/**
 * A child logger for one component. Unless the subsystem is listed in CONTRAST_LOG_SUBSYSTEMS (or `*`),
 * it logs WARN and above only, as upstream does.
 */
export function subsystemLogger(parent: Logger, subsystem: string): Logger {
  const config = (parent as unknown as Record<symbol, LogConfig | undefined>)[kConfig];
  const enabled = config === undefined || config.subsystems === '*' || config.subsystems.has(subsystem);
  const parentLevel = parent.level as LevelWithSilent;
  const level = enabled ? parentLevel : stricter(parentLevel, 'warn');
  return parent.child({ subsystem }, { level });
}

/** A logger that discards everything (tests, library defaults). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

function stricter(a: LevelWithSilent, b: LevelWithSilent): LevelWithSilent {
  return a === 'silent' || (pino.levels.values[a] ?? 0) >= (pino.levels.values[b] ?? 0) ? a : b;
}

function stderrSink(): DestinationStream {
  return {
    write(line: string) {
      writeSync(2, line);
    },
  };
}

/** Re-renders pino's JSON lines as `time=... level=INFO msg="..." key=value` (like Go's slog text). */
function textSink(out: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      out.write(formatText(JSON.parse(line) as Record<string, unknown>) + '\n');
    },
  };
}

/** Exported for tests. */
export function formatText(record: Record<string, unknown>): string {
  const { time, level, msg, ...rest } = record;
  const parts = [`time=${text(time)}`, `level=${text(level)}`, `msg=${quote(text(msg))}`];
  const subsystem = typeof rest['subsystem'] === 'string' ? rest['subsystem'] : undefined;
  delete rest['subsystem'];
  if (subsystem !== undefined) parts.push(`subsystem=${quote(subsystem)}`);
  flatten(rest, '', parts);
  return parts.join(' ');
}

function flatten(value: Record<string, unknown>, prefix: string, out: string[]): void {
  for (const [key, v] of Object.entries(value)) {
    const name = prefix + key;
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      flatten(v as Record<string, unknown>, `${name}.`, out);
    else out.push(`${name}=${quote(typeof v === 'string' ? v : JSON.stringify(v))}`);
  }
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  return v === undefined ? '' : JSON.stringify(v);
}

function quote(s: string): string {
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}
