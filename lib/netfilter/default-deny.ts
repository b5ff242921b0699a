/**
 * The pod VM's default-deny rule: a oneshot unit inserts, at the top of filter/INPUT,
 * `-m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP`, so that a pod without a working mesh accepts
 * no new inbound connection. The meshproxy removes it after its own interception rules are in place;
 * the initializer removes it when the mesh is disabled (CONTRAST_SERVICE_MESH_DISABLED).
 *
 * Removal is idempotent: absent means nothing to do (a restarted container). Every copy is removed,
 * so a rule inserted twice does not keep the pod closed.
 */
import type { Logger } from '../log.js';
import type { Iptables } from './iptables.js';

export const DEFAULT_DENY_CHAIN = 'INPUT';
export const DEFAULT_DENY_RULE: readonly string[] = [
  '-m',
  'conntrack',
  '!',
  '--ctstate',
  'ESTABLISHED,RELATED',
  '-j',
  'DROP',
];

/** Inserts the rule as the pod-VM unit does (used by tests and local demos). */
export async function insertDefaultDeny(iptables: Iptables): Promise<void> {
  await iptables.must(['-t', 'filter', '-I', DEFAULT_DENY_CHAIN, ...DEFAULT_DENY_RULE]);
}

export async function hasDefaultDeny(iptables: Iptables): Promise<boolean> {
  const r = await iptables.run(['-t', 'filter', '-C', DEFAULT_DENY_CHAIN, ...DEFAULT_DENY_RULE]);
  return r.code === 0;
}

/** Removes every copy of the rule. Resolves with how many were removed (0: it did not exist). */
export async function removeDefaultDeny(iptables: Iptables, log?: Logger): Promise<number> {
  let removed = 0;
  while (await hasDefaultDeny(iptables)) {
    await iptables.must(['-t', 'filter', '-D', DEFAULT_DENY_CHAIN, ...DEFAULT_DENY_RULE]);
    removed += 1;
    if (removed > 64) break;
  }
  if (removed === 0) log?.info({ iptables: iptables.binary }, 'default-deny rule does not exist, nothing to do');
  else log?.info({ iptables: iptables.binary, removed }, 'removed the default-deny rule');
  return removed;
}
