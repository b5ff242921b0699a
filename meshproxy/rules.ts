/**
 * The ingress interception rules (mangle table, upstream chain names), for iptables and ip6tables:
 *
 *   PREROUTING          -p tcp -j CONTRAST_INBOUND
 *   CONTRAST_INBOUND    -p tcp -i lo -j RETURN
 *                       -p tcp ! --syn -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
 *                       -p tcp -j CONTRAST_IN_REDIRECT
 *   CONTRAST_IN_REDIRECT per entry: --dport P -j RETURN (plain) | -j TPROXY --on-port 15007 (tls)
 *                       -p tcp -j TPROXY --on-port 15006
 *
 *   OUTPUT              -p tcp -j CONTRAST_OUT_GUARD
 *   CONTRAST_OUT_GUARD  -o lo -j RETURN
 *                       -m mark --mark 0x400000/0x400000 -j RETURN      (the proxy's own sockets)
 *                       per plain entry: -m conntrack --ctorigdstport P -j RETURN
 *                       -m conntrack --ctdir REPLY -j DROP
 *
 * The guard makes "intercepted ports are reached only through the proxy" a property of the kernel's
 * rules, true also when no process of ours runs. Without it, a dead or draining proxy lets plaintext
 * in: TPROXY first looks for a socket of the SYN's own 4-tuple, finds a TIME_WAIT socket that the proxy
 * left (transparent, since it was accepted through a transparent listener) and, with no listener on
 * 15006/15007 any more, assigns the SYN to it; TCP's TIME_WAIT handling then gives the SYN to the
 * application's own listener on the original port. With the guard, the application's answer on an
 * intercepted port (a packet in the reply direction of an inbound connection, leaving through another
 * interface than loopback) is dropped unless it comes from a socket carrying the proxy's mark, which
 * every socket accepted through the proxy's listeners inherits (SO_MARK), together with its SYN-ACK,
 * resets and TIME_WAIT acknowledgements.
 *
 * SYNs always go through TPROXY (`! --syn` on the ESTABLISHED shortcut, which upstream's rule lacks): a
 * client whose connection the proxy refused with a reset may come back from the same source port while
 * conntrack still holds the closed entry (10 s). Conntrack does not reopen an entry that the server's
 * reset closed; it ignores the SYN and reports it ESTABLISHED, so the shortcut would hand the SYN to the
 * application's own listener (plaintext without the guard; with it, a connection that hangs until the
 * client gives up). Through TPROXY the SYN reaches the proxy's listener, and conntrack follows the
 * SYN-ACK.
 *
 * Our three chains are replaced in one `iptables-restore --noflush` commit, so a restarted sidecar never
 * leaves a window without interception and always ends with exactly one set of rules (also after a
 * configuration change). The PREROUTING and OUTPUT jumps are appended only if absent, and duplicates
 * are removed.
 */
import type { Iptables } from '../lib/netfilter/iptables.js';
import type { MeshPlan } from './config-annotations.js';
import { MTLS_PORT, TLS_PORT } from './config.js';

export const INBOUND_CHAIN = 'CONTRAST_INBOUND';
export const REDIRECT_CHAIN = 'CONTRAST_IN_REDIRECT';
export const GUARD_CHAIN = 'CONTRAST_OUT_GUARD';
/** SO_MARK of the proxy's transparent listeners (inherited by accepted sockets); one bit, matched with a mask. */
export const PROXY_SOCKET_MARK = 0x400000;
const MARK = `0x${PROXY_SOCKET_MARK.toString(16)}/0x${PROXY_SOCKET_MARK.toString(16)}`;
const JUMP: readonly string[] = ['-p', 'tcp', '-j', INBOUND_CHAIN];
const GUARD_JUMP: readonly string[] = ['-p', 'tcp', '-j', GUARD_CHAIN];

/** The `iptables-restore` input for our two chains. */
export function ingressRuleset(plan: MeshPlan): string {
  const lines = [
    '*mangle',
    `:${INBOUND_CHAIN} - [0:0]`,
    `:${REDIRECT_CHAIN} - [0:0]`,
    `:${GUARD_CHAIN} - [0:0]`,
    `-A ${INBOUND_CHAIN} -p tcp -i lo -j RETURN`,
    `-A ${INBOUND_CHAIN} -p tcp -m tcp ! --syn -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
    `-A ${INBOUND_CHAIN} -p tcp -j ${REDIRECT_CHAIN}`,
  ];
  for (const p of plan.ingress.ports) {
    lines.push(
      p.mode === 'plain'
        ? `-A ${REDIRECT_CHAIN} -p tcp --dport ${p.port} -j RETURN`
        : `-A ${REDIRECT_CHAIN} -p tcp --dport ${p.port} -j TPROXY --on-port ${TLS_PORT}`,
    );
  }
  lines.push(`-A ${REDIRECT_CHAIN} -p tcp -j TPROXY --on-port ${MTLS_PORT}`);
  lines.push(`-A ${GUARD_CHAIN} -o lo -j RETURN`, `-A ${GUARD_CHAIN} -m mark --mark ${MARK} -j RETURN`);
  for (const p of plan.ingress.ports) {
    if (p.mode === 'plain') lines.push(`-A ${GUARD_CHAIN} -m conntrack --ctorigdstport ${p.port} -j RETURN`);
  }
  lines.push(`-A ${GUARD_CHAIN} -m conntrack --ctdir REPLY -j DROP`, 'COMMIT', '');
  return lines.join('\n');
}

/** Installs (or atomically replaces) the rules with one binary. */
export async function installIngressRules(iptables: Iptables, plan: MeshPlan): Promise<void> {
  await iptables.restore(ingressRuleset(plan));
  // The guard first: interception without it would be the state this module exists to prevent.
  await ensureSingleJump(iptables, 'OUTPUT', GUARD_JUMP);
  await ensureSingleJump(iptables, 'PREROUTING', JUMP);
}

/** Removes the PREROUTING jump and our chains, if present (ingress DISABLED after an earlier run). */
export async function removeIngressRules(iptables: Iptables): Promise<boolean> {
  let changed = false;
  for (const [chain, jump] of [
    ['PREROUTING', JUMP],
    ['OUTPUT', GUARD_JUMP],
  ] as const) {
    while ((await iptables.run(['-t', 'mangle', '-C', chain, ...jump])).code === 0) {
      await iptables.must(['-t', 'mangle', '-D', chain, ...jump]);
      changed = true;
    }
  }
  for (const chain of [INBOUND_CHAIN, REDIRECT_CHAIN, GUARD_CHAIN]) {
    if ((await iptables.run(['-t', 'mangle', '-F', chain])).code === 0) changed = true;
  }
  for (const chain of [INBOUND_CHAIN, REDIRECT_CHAIN, GUARD_CHAIN]) await iptables.run(['-t', 'mangle', '-X', chain]);
  return changed;
}

async function ensureSingleJump(iptables: Iptables, chain: string, jump: readonly string[]): Promise<void> {
  const listing = await iptables.must(['-t', 'mangle', '-S', chain]);
  const count = listing.split('\n').filter((l) => l.trim() === `-A ${chain} ${jump.join(' ')}`).length;
  if (count === 0) await iptables.must(['-t', 'mangle', '-A', chain, ...jump]);
  for (let i = 1; i < count; i++) await iptables.must(['-t', 'mangle', '-D', chain, ...jump]);
}
