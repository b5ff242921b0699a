/**
 * CONTRAST_SERVICE_MESH_DISABLED: the pod VM starts with a default-deny inbound rule that the service
 * mesh proxy removes once it listens. Without a mesh, the initializer removes it, for IPv4 and IPv6,
 * through the shared lib/netfilter module. Unlike a bare `-C` check, a table that cannot be read
 * (no NET_ADMIN, no iptables) is an error here, not "rule absent": a pod must not stay closed silently.
 */
import type { Logger } from '../lib/log.js';
import { createIptables, type Iptables } from '../lib/netfilter/iptables.js';
import { DEFAULT_DENY_CHAIN, removeDefaultDeny } from '../lib/netfilter/default-deny.js';
import { DefaultDenyError } from './errors.js';
import { errorMessage } from '../lib/errors.js';

export interface DefaultDenyRemover {
  /** Removes the rule where present; returns the binaries it was removed with. */
  remove(): Promise<string[]>;
}

export interface DefaultDenyOptions {
  /** Default: iptables and ip6tables from PATH. */
  readonly iptables?: readonly Iptables[];
  readonly logger?: Logger;
}

export function iptablesDefaultDenyRemover(options: DefaultDenyOptions = {}): DefaultDenyRemover {
  const tables = options.iptables ?? [createIptables('iptables'), createIptables('ip6tables')];
  return {
    async remove() {
      const removedWith: string[] = [];
      for (const iptables of tables) {
        try {
          await iptables.must(['-t', 'filter', '-S', DEFAULT_DENY_CHAIN]);
          if ((await removeDefaultDeny(iptables, options.logger)) > 0) removedWith.push(iptables.binary);
        } catch (err) {
          throw new DefaultDenyError(
            `removing the default-deny rule with ${iptables.binary}: ${errorMessage(err)} (does the container have NET_ADMIN?)`,
            { cause: err },
          );
        }
      }
      return removedWith;
    },
  };
}
