/** The variables contrast-dev reads, for --help and docs/configuration.md (its settings are flags). */
import { LOG_ENVIRONMENT, NATIVE_ENVIRONMENT, type EnvVarDoc } from '../lib/environment.js';

export const DEV_ENVIRONMENT: readonly EnvVarDoc[] = Object.freeze([...LOG_ENVIRONMENT, ...NATIVE_ENVIRONMENT]);
