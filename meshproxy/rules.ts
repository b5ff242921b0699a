/**
 * The ingress interception rules (mangle table, upstream chain names), for iptables and ip6tables:
 *
 *   PREROUTING          -p tcp -j CONTRAST_INBOUND
 *   CONTRAST_INBOUND    -p tcp -i lo -j RETURN
 *                       -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
 *                       -p tcp -j CONTRAST_IN_REDIRECT
 *   CONTRAST_IN_REDIRECT per entry: --dport P -j RETURN (plain) | -j TPROXY --on-port 15007 (tls)
 *                       -p tcp -j TPROXY --on-port 15006
 *
 * Our two chains are replaced in one `iptables-restore --noflush` commit, so a restarted sidecar never
 * leaves a window without interception and always ends with exactly one set of rules (also after a
 * configuration change). The PREROUTING jump is appended only if absent, and duplicates are removed.
 */
import type { Iptables } from '../lib/netfilter/iptables.js';
import type { MeshPlan } from './config-annotations.js';
import { MTLS_PORT, TLS_PORT } from './config.js';

export const INBOUND_CHAIN = 'CONTRAST_INBOUND';
export const REDIRECT_CHAIN = 'CONTRAST_IN_REDIRECT';
const JUMP: readonly string[] = ['-p', 'tcp', '-j', INBOUND_CHAIN];

/** The `iptables-restore` input for our two chains. */
export function ingressRuleset(plan: MeshPlan): string {
  const lines = [
    '*mangle',
    `:${INBOUND_CHAIN} - [0:0]`,
    `:${REDIRECT_CHAIN} - [0:0]`,
    `-A ${INBOUND_CHAIN} -p tcp -i lo -j RETURN`,
    `-A ${INBOUND_CHAIN} -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
    `-A ${INBOUND_CHAIN} -p tcp -j ${REDIRECT_CHAIN}`,
  ];
  for (const p of plan.ingress.ports) {
    lines.push(p.mode === 'plain'
      ? `-A ${REDIRECT_CHAIN} -p tcp --dport ${p.port} -j RETURN`
      : `-A ${REDIRECT_CHAIN} -p tcp --dport ${p.port} -j TPROXY --on-port ${TLS_PORT}`);
  }
  lines.push(`-A ${REDIRECT_CHAIN} -p tcp -j TPROXY --on-port ${MTLS_PORT}`, 'COMMIT', '');
  return lines.join('\n');
}

/** Installs (or atomically replaces) the rules with one binary. */
export async function installIngressRules(iptables: Iptables, plan: MeshPlan): Promise<void> {
  await iptables.restore(ingressRuleset(plan));
  await ensureSingleJump(iptables);
}

/** Removes the PREROUTING jump and our chains, if present (ingress DISABLED after an earlier run). */
export async function removeIngressRules(iptables: Iptables): Promise<boolean> {
  let changed = false;
  while ((await iptables.run(['-t', 'mangle', '-C', 'PREROUTING', ...JUMP])).code === 0) {
    await iptables.must(['-t', 'mangle', '-D', 'PREROUTING', ...JUMP]);
    changed = true;
  }
  for (const chain of [INBOUND_CHAIN, REDIRECT_CHAIN]) {
    if ((await iptables.run(['-t', 'mangle', '-F', chain])).code === 0) changed = true;
  }
  for (const chain of [INBOUND_CHAIN, REDIRECT_CHAIN]) await iptables.run(['-t', 'mangle', '-X', chain]);
  return changed;
}

async function ensureSingleJump(iptables: Iptables): Promise<void> {
  const listing = await iptables.must(['-t', 'mangle', '-S', 'PREROUTING']);
  const count = listing.split('\n').filter((l) => l.trim() === `-A PREROUTING ${JUMP.join(' ')}`).length;
  if (count === 0) await iptables.must(['-t', 'mangle', '-A', 'PREROUTING', ...JUMP]);
  for (let i = 1; i < count; i++) await iptables.must(['-t', 'mangle', '-D', 'PREROUTING', ...JUMP]);
}
