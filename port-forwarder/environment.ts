/** The variables contrast-port-forwarder reads, for --help and docs/configuration.md (read by config.ts). */
import { LOG_ENVIRONMENT, REQUIRED, UNSET, type EnvVarDoc } from '../lib/environment.js';

export const FORWARDER_ENVIRONMENT: readonly EnvVarDoc[] = Object.freeze([
  { name: 'FORWARD_HOST', default: REQUIRED, meaning: 'host name or IP address to forward to' },
  {
    name: 'LISTEN_PORT',
    default: UNSET,
    meaning: 'one port to listen on, forwarded to the same port (or FORWARD_PORT); this or LISTEN_PORTS is required',
  },
  {
    name: 'LISTEN_PORTS',
    default: UNSET,
    meaning: 'several ports separated by spaces or commas, each forwarded to itself; not with LISTEN_PORT',
  },
  { name: 'FORWARD_PORT', default: UNSET, meaning: 'target port, only with LISTEN_PORT (unset: LISTEN_PORT)' },
  { name: 'LISTEN_ADDRESS', default: '0.0.0.0', meaning: 'address to listen on' },
  { name: 'CONNECT_TIMEOUT', default: '10s', meaning: 'dialing the target' },
  ...LOG_ENVIRONMENT,
]);
