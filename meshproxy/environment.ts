/** The variables contrast-meshproxy reads, for --help and docs/configuration.md (read by config.ts). */
import {
  LOG_ENVIRONMENT,
  NATIVE_ENVIRONMENT,
  TLS_GROUPS_ENVIRONMENT,
  UNSET,
  type EnvVarDoc,
} from '../lib/environment.js';
import { DEFAULT_TLS_DIR, defaultRenewalSignalFile, TLS_FILES } from '../lib/pod-layout.js';

export const MESHPROXY_ENVIRONMENT: readonly EnvVarDoc[] = Object.freeze([
  {
    name: 'CONTRAST_INGRESS_PROXY_CONFIG',
    default: UNSET,
    meaning:
      'servicemesh-ingress annotation: "", DISABLED or name#port#disableTLS entries joined by ## (legacy EDG_INGRESS_PROXY_CONFIG); unset: every inbound TCP port needs mutual TLS',
  },
  {
    name: 'CONTRAST_EGRESS_PROXY_CONFIG',
    default: UNSET,
    meaning:
      'servicemesh-egress annotation: name#127.x.y.z:port#host:port entries joined by ## (legacy EDG_EGRESS_PROXY_CONFIG)',
  },
  { name: 'CONTRAST_ADMIN_PORT', default: UNSET, meaning: 'admin HTTP port; "" or 0: none (legacy EDG_ADMIN_PORT)' },
  {
    name: 'CONTRAST_MESHPROXY_ADMIN_ADDRESS',
    default: '127.0.0.1',
    meaning: 'address the admin port binds to; 0.0.0.0 or :: exposes it to the network',
  },
  {
    name: 'CONTRAST_TLS_DIR',
    default: DEFAULT_TLS_DIR,
    meaning: `directory with ${TLS_FILES.certChain}, ${TLS_FILES.key} and ${TLS_FILES.meshCA} (written by the initializer)`,
  },
  {
    name: 'CONTRAST_READY_FILE',
    default: '/ready',
    meaning: 'written when the proxy serves (the test -f /ready probe)',
  },
  {
    name: 'CONTRAST_MESHPROXY_MODE',
    default: 'transparent',
    meaning: 'transparent (TPROXY and iptables) or explicit (listeners only, no iptables)',
  },
  {
    name: 'CONTRAST_MESHPROXY_INGRESS_LISTEN',
    default: UNSET,
    meaning: 'explicit mode only: <ip>:<port>=<app port>, comma separated',
  },
  {
    name: 'CONTRAST_IPTABLES',
    default: 'iptables-legacy',
    meaning: 'iptables binary (<binary>-restore must exist beside it)',
  },
  {
    name: 'CONTRAST_IP6TABLES',
    default: 'ip6tables-legacy',
    meaning: 'ip6tables binary (<binary>-restore must exist beside it)',
  },
  { name: 'CONTRAST_MESHPROXY_DRAIN_TIMEOUT', default: '10s', meaning: 'how long SIGTERM waits for open connections' },
  { name: 'CONTRAST_MESHPROXY_CONNECT_TIMEOUT', default: '5s', meaning: 'connecting to an upstream' },
  { name: 'CONTRAST_MESHPROXY_HANDSHAKE_TIMEOUT', default: '10s', meaning: 'a TLS handshake (a deadline from accept)' },
  { name: 'CONTRAST_MESHPROXY_IDLE_TIMEOUT', default: '1h', meaning: 'an idle connection is closed after this' },
  {
    name: 'CONTRAST_MESHPROXY_CA_GRACE',
    default: '10m',
    meaning: 'after a mesh CA change, how long the previous mesh CA stays trusted beside the new one; 0: not at all',
  },
  {
    name: 'CONTRAST_RENEWAL_SIGNAL_FILE',
    default: defaultRenewalSignalFile(DEFAULT_TLS_DIR),
    meaning:
      'where unknown-CA failures request a renewal from the initializer (renewal-request beside CONTRAST_TLS_DIR)',
  },
  {
    name: 'CONTRAST_MESHPROXY_MAX_PENDING_HANDSHAKES',
    default: UNSET,
    meaning:
      'connections per ingress listener still in their TLS handshake, over it the oldest is dropped; unset: 1024, at most 1/8 of the open-file limit (at least 16)',
  },
  {
    name: 'CONTRAST_MESHPROXY_SESSION_RESUMPTION',
    default: 'true',
    meaning:
      'the egress resumes TLS sessions with each remote (TLS 1.3 tickets, no certificates or signatures on a resumed handshake); false: every connection is a full handshake',
  },
  {
    name: 'CONTRAST_MESHPROXY_DATA_PATH',
    default: 'native',
    meaning:
      "what carries ingress and egress connections: native (the addon's relay: TLS and the byte pump in C on Node's event loop) or node (Node's TLS sockets and streams)",
  },
  ...TLS_GROUPS_ENVIRONMENT,
  ...LOG_ENVIRONMENT,
  ...NATIVE_ENVIRONMENT,
]);
