/**
 * The environment variables a program reads, as documentation data: `--help` prints them (lib/cli.ts)
 * and docs/configuration.md is checked against them. Each program lists its own in
 * `<program>/environment.ts`; the groups every program shares live here.
 */
import { DEFAULT_TLS_GROUPS } from './tls-groups.js';

export interface EnvVarDoc {
  readonly name: string;
  /** The value used when the variable is unset, as written in the environment; `(required)` or `(unset)` otherwise. */
  readonly default: string;
  readonly meaning: string;
}

export const REQUIRED = '(required)';
export const UNSET = '(unset)';

/** lib/log.ts: every program. */
export const LOG_ENVIRONMENT: readonly EnvVarDoc[] = Object.freeze([
  { name: 'CONTRAST_LOG_LEVEL', default: 'info', meaning: 'debug, info, warn or error' },
  {
    name: 'CONTRAST_LOG_FORMAT',
    default: 'text',
    meaning: 'text (key=value, like upstream) or json (one JSON object a line); another value: a WARN, then text',
  },
  {
    name: 'CONTRAST_LOG_SUBSYSTEMS',
    default: UNSET,
    meaning: 'subsystems that log below WARN: * or a comma list (issuer, validator, atls, ...)',
  },
]);

/** lib/native/addon.ts: programs that load the addon. */
export const NATIVE_ENVIRONMENT: readonly EnvVarDoc[] = Object.freeze([
  {
    name: 'CONTRAST_NATIVE_ADDON',
    default: UNSET,
    meaning: 'path of the compiled addon to load instead of the one beside the program',
  },
]);

/** lib/tls-groups.ts: programs that speak mesh TLS or aTLS (meshproxy, initializer). */
export const TLS_GROUPS_ENVIRONMENT: readonly EnvVarDoc[] = Object.freeze([
  {
    name: 'CONTRAST_TLS_GROUPS',
    default: DEFAULT_TLS_GROUPS,
    meaning: 'TLS key-exchange groups, an OpenSSL groups list (post-quantum hybrid first; X25519 for classic peers)',
  },
]);
