import { secretPlaceholder, writeFileSnippet } from "../host/script";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { shellQuote } from "../util/shell";
import { cidr as parseCidrStrict, cidrSize, nthAddress } from "../util/cidr";
import { OverlayPlan } from "./plan";
import { lanRoutesFromPeers } from "./subnets";
import { parseEndpoint } from "./validate";

/** One `[Peer]` with its public key known. */
export interface WgPeerSpec {
    readonly name: string;
    readonly publicKey: string;
    readonly endpoint?: string;
    readonly allowedIps: readonly string[];
    readonly persistentKeepalive?: number;
    /** The config carries a `PresharedKey` placeholder, filled on the host from the `presharedKeySecret(name)` secret. */
    readonly presharedKey: boolean;
    /** The peer's own overlay address: the watchdog pings it to find a stale session (see `renderWatchdogScript`). */
    readonly address?: string;
}

/** Everything one host's WireGuard files and scripts are rendered from. Plain values only. */
export interface WgInterfaceSpec {
    readonly host: string;
    readonly interfaceName: string;
    /** Overlay address of the host (no prefix). */
    readonly address: string;
    /** The overlay CIDR: its prefix goes on the address, so the whole overlay is a connected route. */
    readonly overlayCidr: string;
    readonly listenPort: number;
    readonly mtu: number;
    readonly peers: readonly WgPeerSpec[];
    /** IP forwarding and FORWARD rules (hubs, gateways, subnet routers). */
    readonly forward: boolean;
    /** Accept the listen port in INPUT. */
    readonly openListenPort: boolean;
    /**
     * CIDRs accepted in INPUT from any interface: the k3s pod and service CIDRs (traffic from pods and
     * from service VIPs after kube-proxy's DNAT reaches the host from these sources).
     */
    readonly trustedSources: readonly string[];
    /** LANs advertised by this host: forwarded and masqueraded. */
    readonly lan: readonly string[];
}

/** Name of the stdin secret holding the interface's private key. */
export const PRIVATE_KEY_SECRET = "wg_private_key";

/** Name of the stdin secret holding the preshared key shared with `peer`. */
export function presharedKeySecret(peer: string): string {
    // Host names are DNS labels, so '-' → '_' keeps them distinct.
    return `wg_psk_${peer.replace(/-/g, "_")}`;
}

export function configPath(interfaceName: string): string {
    return `/etc/wireguard/${interfaceName}.conf`;
}

/** iptables chains owned by the interface: INPUT, FORWARD and nat POSTROUTING parts. */
export function chainNames(interfaceName: string): { input: string; forward: string; nat: string } {
    return { input: `HI-${interfaceName}-IN`, forward: `HI-${interfaceName}-FWD`, nat: `HI-${interfaceName}-NAT` };
}

/** The wg-quick config text of one interface. The private and preshared keys are placeholders. */
export function renderWgConf(spec: WgInterfaceSpec): string {
    const prefix = spec.overlayCidr.split("/")[1];
    const lines = [
        `# WireGuard interface ${spec.interfaceName} of host ${spec.host}`,
        "[Interface]",
        `Address = ${spec.address}/${prefix}`,
        `ListenPort = ${spec.listenPort}`,
        `MTU = ${spec.mtu}`,
        `PrivateKey = ${secretPlaceholder(PRIVATE_KEY_SECRET)}`,
    ];
    for (const p of spec.peers) lines.push("", ...peerSection(p, p.presharedKey ? secretPlaceholder(presharedKeySecret(p.name)) : undefined));
    return `${lines.join("\n")}\n`;
}

/**
 * One `[Peer]` section of a wg-quick file, after a `# peer <name>` comment: key, the preshared key text given
 * (a placeholder in a host's file, the key itself in an operator's), endpoint, allowed IPs, keepalive.
 */
export function peerSection(
    p: { readonly name: string; readonly publicKey: string; readonly endpoint?: string; readonly allowedIps: readonly string[]; readonly persistentKeepalive?: number },
    presharedKey: string | undefined,
): string[] {
    return [
        `# peer ${p.name}`,
        "[Peer]",
        `PublicKey = ${p.publicKey}`,
        ...(presharedKey !== undefined ? [`PresharedKey = ${presharedKey}`] : []),
        ...(p.endpoint !== undefined ? [`Endpoint = ${p.endpoint}`] : []),
        `AllowedIPs = ${p.allowedIps.join(", ")}`,
        ...(p.persistentKeepalive !== undefined ? [`PersistentKeepalive = ${p.persistentKeepalive}`] : []),
    ];
}

/** The interface spec of one planned host, given every host's public key. */
export function interfaceSpecFromPlan(plan: OverlayPlan, host: string, publicKeys: Record<string, string>): WgInterfaceSpec {
    const node = plan.nodes.find((n) => n.name === host);
    if (node === undefined) throw new Error(`host ${host} is not in the plan`);
    return {
        host,
        interfaceName: plan.interfaceName,
        address: node.address,
        overlayCidr: plan.cidr,
        listenPort: plan.listenPort,
        mtu: node.mtu,
        forward: node.forward,
        openListenPort: node.openListenPort,
        trustedSources: [plan.podCidr, plan.serviceCidr],
        lan: node.lan,
        peers: node.peers.map((p) => {
            const publicKey = publicKeys[p.name];
            if (publicKey === undefined) throw new Error(`no public key for peer ${p.name} of ${host}`);
            const address = plan.nodes.find((n) => n.name === p.name)?.address;
            return { ...p, publicKey, ...(address !== undefined ? { address } : {}) };
        }),
    };
}

/** The wg-quick config of a planned host (`/etc/wireguard/<iface>.conf`), keys as placeholders. */
export function renderWgQuickConfig(plan: OverlayPlan, host: string, publicKeys: Record<string, string>): string {
    return renderWgConf(interfaceSpecFromPlan(plan, host, publicKeys));
}

/** What the install step needs to know. */
export interface WgInstallSpec {
    readonly interfaceName: string;
    /** iptables is needed (forwarding or an open listen port). */
    readonly firewall: boolean;
}

/**
 * Body of the `wg-install` step: wireguard-tools only when `wg`/`wg-quick` are missing, and wireguard-go
 * only when the kernel cannot create WireGuard links. With the tools present it never calls the package
 * manager, so hosts without a mirror are fine.
 */
export function renderInstallBody(spec: WgInstallSpec): string {
    const iface = shellQuote(spec.interfaceName);
    return `WG_IF=${iface}
hi_wg_kernel_ok() {
  [ -d /sys/module/wireguard ] && return 0
  modprobe wireguard >/dev/null 2>&1 && return 0
  if ip link add dev hi-wgprobe0 type wireguard >/dev/null 2>&1; then
    ip link del dev hi-wgprobe0 >/dev/null 2>&1 || true
    return 0
  fi
  return 1
}
# BusyBox ip cannot create WireGuard links; wg-quick needs the iproute2 one.
if [ "$HI_PKG" = apk ] && ! ip -V 2>&1 | grep -q iproute2; then
  hi_pkg_install iproute2
fi
hi_ensure_cmd ip iproute2 iproute iproute2
hi_ensure_cmd wg wireguard-tools wireguard-tools wireguard-tools
hi_ensure_cmd wg-quick wireguard-tools wireguard-tools wireguard-tools
${spec.firewall ? "hi_ensure_cmd iptables iptables iptables iptables\n" : ""}if ip link show dev "$WG_IF" >/dev/null 2>&1; then
  hi_log "$WG_IF exists: WireGuard works on this host"
elif hi_wg_kernel_ok; then
  hi_log "kernel WireGuard module available"
elif command -v wireguard-go >/dev/null 2>&1; then
  hi_log "no kernel WireGuard module: wg-quick will use wireguard-go (present)"
else
  hi_log "no kernel WireGuard module: installing wireguard-go for wg-quick to fall back to"
  case "$HI_PKG" in
    apt | apk) hi_pkg_install wireguard-go ;;
    dnf) hi_fail "the kernel has no WireGuard module and wireguard-go is not packaged for dnf; boot a kernel with WireGuard (RHEL 8.4 or later) or install wireguard-go, then run again" ;;
  esac
  command -v wireguard-go >/dev/null 2>&1 || hi_fail "wireguard-go is still missing after installing its package"
fi
`;
}

/** Body of the install step's delete: the tools stay (other software may use them). */
export function renderInstallDeleteBody(): string {
    return 'hi_log "wireguard-tools (and wireguard-go, if any) are left installed: other software may use them"\n';
}

/** Shell functions shared by the config step and its delete (see firewall.sh next to this file). */
const FIREWALL_FUNCTIONS: string = fs.readFileSync(path.join(__dirname, "firewall.sh"), "utf8");

function firewallFunctions(): string {
    return FIREWALL_FUNCTIONS;
}

/** The host firewall kinds the config step tells apart on the host (`hi_fw_kind` in firewall.sh). */
export const FirewallKind = {
    /** Plain iptables rules (legacy or nf_tables backend), e.g. Oracle Cloud's images, whose INPUT ends in REJECT. */
    Iptables: "iptables",
    /** firewalld is running: it rebuilds its own ruleset and ignores plain iptables ACCEPT rules. */
    Firewalld: "firewalld",
    /** ufw is active: its own chains decide, its rules are kept in its files. */
    Ufw: "ufw",
} as const;
export type FirewallKind = (typeof FirewallKind)[keyof typeof FirewallKind];

/** The file where the config step records the firewalld entries it added (removed on delete). */
export function firewalldRecordPath(interfaceName: string): string {
    return `/var/lib/hybridinfra/firewalld-${interfaceName}`;
}

/** The comment on every ufw rule the config step adds: how delete finds ours. */
export function ufwTag(interfaceName: string): string {
    return `hybridinfra-${interfaceName}`;
}

/**
 * What each host opens in its firewall, per firewall kind: everything that arrives on the overlay interface,
 * everything from the pod and service CIDRs, and the WireGuard UDP port on hosts that others dial
 * (`openListenPort`) or that forward.
 *
 * Why the whole overlay interface: k3s's "Inbound Rules for K3s Nodes"
 * (https://docs.k3s.io/installation/requirements#inbound-rules-for-k3s-nodes) lists 2379-2380/tcp (embedded
 * etcd, servers), 6443/tcp (supervisor and API server), 8472/udp (flannel VXLAN), 10250/tcp (kubelet metrics
 * and API), 51820-51821/udp (flannel's WireGuard backend) and 5001/tcp plus 6443/tcp (the embedded
 * registry, Spegel). Our k3s nodes use the overlay address as node-ip and wg0 as flannel-iface, so all of it
 * arrives on wg0; only the WireGuard port itself arrives on the public interface. Accepting the interface
 * covers the table, NodePorts and ingress traffic forwarded over the overlay alike, and equals k3s's own
 * firewalld advice (the trusted zone). The pod and service CIDRs are those of the same page's firewalld and
 * ufw notes (`--zone=trusted --add-source=10.42.0.0/16`, `ufw allow from 10.42.0.0/16`). Nothing for k3s is
 * opened on the public interface.
 *
 * - iptables: our chain (`HI-<iface>-IN`), hooked first into INPUT, so a REJECT at the end of INPUT (Oracle
 *   Cloud's images) no longer applies to the overlay.
 * - firewalld: the interface and the CIDRs in the `trusted` zone, the port in the zone of the public
 *   interface; at runtime and permanently; only entries this step added are recorded and later removed.
 * - ufw: `allow in on <iface>`, `allow from <cidr>`, `allow <port>/udp`, each with comment `hybridinfra-<iface>`.
 */
export function hostFirewallRules(spec: Pick<WgInterfaceSpec, "interfaceName" | "listenPort" | "openListenPort" | "forward" | "trustedSources">): Record<FirewallKind, string[]> {
    const port = spec.openListenPort || spec.forward;
    return {
        [FirewallKind.Iptables]: [
            `-i ${spec.interfaceName} -j ACCEPT`,
            ...spec.trustedSources.map((c) => `-s ${c} -j ACCEPT`),
            ...(port ? [`-p udp --dport ${spec.listenPort} -j ACCEPT`] : []),
        ],
        [FirewallKind.Firewalld]: [
            `interface ${spec.interfaceName}`,
            ...spec.trustedSources.map((c) => `source ${c}`),
            ...(port ? [`port ${spec.listenPort}/udp`] : []),
        ],
        [FirewallKind.Ufw]: [
            `allow in on ${spec.interfaceName}`,
            ...spec.trustedSources.map((c) => `allow from ${c}`),
            ...(port ? [`allow ${spec.listenPort}/udp`] : []),
        ],
    };
}

/** The config step's firewall block: detect the host's firewall, put our openings there, and none elsewhere. */
function renderFirewallBlock(spec: WgInterfaceSpec): string {
    const rules = hostFirewallRules(spec);
    const heredoc = (lines: string[]): string => `<<'HI_RULES'\n${lines.join("\n")}\nHI_RULES`;
    return `# Host firewall: the overlay interface, the pod and service CIDRs${spec.openListenPort || spec.forward ? " and the WireGuard port" : ""} (see hostFirewallRules).
HI_FW_KIND="$(hi_fw_kind)"
hi_log "host firewall: $HI_FW_KIND"
case "$HI_FW_KIND" in
  firewalld)
    hi_wg_chain_remove filter INPUT "$WG_CHAIN_IN"
    hi_ufw_remove "$WG_FW_TAG"
    hi_fwd_apply "$WG_FW_RECORD" ${heredoc(rules.firewalld)}
    ;;
  ufw)
    hi_wg_chain_remove filter INPUT "$WG_CHAIN_IN"
    hi_fwd_remove "$WG_FW_RECORD"
    hi_ufw_apply "$WG_FW_TAG" ${heredoc(rules.ufw)}
    ;;
  *)
    hi_fwd_remove "$WG_FW_RECORD"
    hi_ufw_remove "$WG_FW_TAG"
    hi_wg_chain filter INPUT "$WG_CHAIN_IN" ${heredoc(rules.iptables)}
    ;;
esac`;
}

/** Seconds after the last handshake before a name endpoint is resolved again (wireguard-tools' reresolve-dns.sh uses 135). */
export const RERESOLVE_AFTER_SECONDS = 135;
/** How often the re-resolve timer runs. */
export const RERESOLVE_INTERVAL_SECONDS = 30;

/** Peers whose endpoint is a DNS name (`home.example.org:51821`): resolved once by `wg`, so they go stale when the IP changes. */
export function nameEndpointPeers(spec: Pick<WgInterfaceSpec, "peers">): WgPeerSpec[] {
    return spec.peers.filter((p) => {
        if (p.endpoint === undefined) return false;
        const host = parseEndpoint(p.endpoint)?.host.replace(/^\[(.*)\]$/, "$1") ?? p.endpoint;
        return net.isIP(host) === 0;
    });
}

/** Paths of the re-resolve script and its units for an interface. */
export function reresolvePaths(interfaceName: string): { script: string; service: string; timer: string; periodic: string; unit: string } {
    const unit = `hybridinfra-wg-reresolve-${interfaceName}`;
    return {
        script: `/usr/local/sbin/${unit}`,
        service: `/etc/systemd/system/${unit}.service`,
        timer: `/etc/systemd/system/${unit}.timer`,
        periodic: `/etc/periodic/15min/${unit}`,
        unit,
    };
}

/**
 * The re-resolve script: like wireguard-tools' `examples/reresolve-dns/reresolve-dns.sh`, it sets the endpoint
 * of every peer with a DNS-name endpoint again (which resolves the name anew) when its last handshake is older
 * than 135 s, so a home hub whose IP changed is found again. Only peers that exist are touched (`wg set` would
 * add a missing one).
 */
export function renderReresolveScript(interfaceName: string, peers: readonly WgPeerSpec[]): string {
    const list = peers.map((p) => `${p.publicKey} ${p.endpoint}`).join("\n");
    return `#!/usr/bin/env bash
# managed by hybridinfra: do not edit, changes are overwritten
# Re-resolves the DNS-name endpoints of ${interfaceName}'s peers whose last handshake is older than ${RERESOLVE_AFTER_SECONDS} s.
set -u
IF=${shellQuote(interfaceName)}
handshakes="$(wg show "$IF" latest-handshakes 2>/dev/null)" || exit 0
now="$(date +%s)"
while read -r key endpoint; do
  [ -n "$key" ] || continue
  last="$(printf '%s\\n' "$handshakes" | awk -v k="$key" '$1 == k { print $2 }')"
  [ -n "$last" ] || continue
  if [ $((now - last)) -gt ${RERESOLVE_AFTER_SECONDS} ]; then
    wg set "$IF" peer "$key" endpoint "$endpoint" || echo "could not resolve $endpoint for peer $key" >&2
  fi
done <<'HI_PEERS'
${list}
HI_PEERS
`;
}

function reresolveServiceUnit(interfaceName: string, script: string): string {
    return `# managed by hybridinfra: do not edit, changes are overwritten
[Unit]
Description=Re-resolve DNS-name endpoints of WireGuard ${interfaceName}
After=wg-quick@${interfaceName}.service

[Service]
Type=oneshot
ExecStart=${script}
`;
}

function reresolveTimerUnit(interfaceName: string): string {
    return `# managed by hybridinfra: do not edit, changes are overwritten
[Unit]
Description=Re-resolve DNS-name endpoints of WireGuard ${interfaceName} every ${RERESOLVE_INTERVAL_SECONDS} s

[Timer]
OnBootSec=${RERESOLVE_INTERVAL_SECONDS}
OnUnitActiveSec=${RERESOLVE_INTERVAL_SECONDS}

[Install]
WantedBy=timers.target
`;
}

/**
 * The part of the config step that keeps name endpoints fresh: with such peers, the script plus a systemd
 * timer (every 30 s) or, on OpenRC, a 15-minute periodic job; without, all of it is removed.
 */
function renderReresolveBlock(spec: WgInterfaceSpec): string {
    const paths = reresolvePaths(spec.interfaceName);
    const peers = nameEndpointPeers(spec);
    if (peers.length === 0) return renderReresolveRemoval(spec.interfaceName);
    return `# Peers with DNS-name endpoints (${peers.map((p) => p.name).join(", ")}): wg resolves a name once, so re-resolve it.
${writeFileSnippet(paths.script, renderReresolveScript(spec.interfaceName, peers), "0755", "root:root", "")}
case "$HI_INIT" in
  systemd)
${writeFileSnippet(paths.service, reresolveServiceUnit(spec.interfaceName, paths.script), "0644", "root:root", "")}
${writeFileSnippet(paths.timer, reresolveTimerUnit(spec.interfaceName), "0644", "root:root", "")}
    systemctl daemon-reload
    if ! systemctl is-enabled --quiet ${shellQuote(`${paths.unit}.timer`)} 2>/dev/null || ! systemctl is-active --quiet ${shellQuote(`${paths.unit}.timer`)} 2>/dev/null; then
      systemctl enable --now ${shellQuote(`${paths.unit}.timer`)} >/dev/null 2>&1
      HI_CHANGED=1
      hi_log "enabled ${paths.unit}.timer: re-resolves name endpoints every ${RERESOLVE_INTERVAL_SECONDS} s"
    fi ;;
  openrc)
    mkdir -p /etc/periodic/15min
${writeFileSnippet(paths.periodic, `#!/bin/sh\n# managed by hybridinfra: do not edit, changes are overwritten\nexec ${paths.script}\n`, "0755", "root:root", "")}
    ;;
  *)
    hi_warn "no init system: run ${paths.script} periodically (e.g. from cron) so name endpoints follow IP changes" ;;
esac`;
}

/** Removes the re-resolve script and units (no name endpoints any more, or the interface is deleted). */
function renderReresolveRemoval(interfaceName: string): string {
    const paths = reresolvePaths(interfaceName);
    return `if [ "$HI_INIT" = systemd ] && systemctl is-enabled --quiet ${shellQuote(`${paths.unit}.timer`)} 2>/dev/null; then
  systemctl disable --now ${shellQuote(`${paths.unit}.timer`)} >/dev/null 2>&1 || true
  HI_CHANGED=1
  hi_log "disabled ${paths.unit}.timer"
fi
for f in ${shellQuote(paths.timer)} ${shellQuote(paths.service)} ${shellQuote(paths.periodic)} ${shellQuote(paths.script)}; do
  [ ! -e "$f" ] || hi_remove_managed_file "$f"
done`;
}

/** The slowest watchdog interval (s): a dead interface comes back within it. */
export const WATCHDOG_MAX_INTERVAL_SECONDS = 20;

/** Paths of the watchdog script and its units for an interface. */
export function watchdogPaths(interfaceName: string): { script: string; service: string; timer: string; openrc: string; log: string; unit: string } {
    const unit = `hybridinfra-wg-watchdog-${interfaceName}`;
    return {
        script: `/usr/local/sbin/${unit}`,
        service: `/etc/systemd/system/${unit}.service`,
        timer: `/etc/systemd/system/${unit}.timer`,
        openrc: `/etc/init.d/${unit}`,
        log: `/var/log/${unit}.log`,
        unit,
    };
}

/** Peers the watchdog probes: those this host dials (they have an endpoint) whose overlay address is known. */
export function watchdogPeers(spec: Pick<WgInterfaceSpec, "peers">): WgPeerSpec[] {
    return spec.peers.filter((p) => p.endpoint !== undefined && p.address !== undefined);
}

/**
 * How often the watchdog runs: the smallest keepalive of the peers (25 s when none has one), at most 20 s and
 * at least 2 s. A peer that restarted is found at the next run: one interval, two 1 s pings and a handshake
 * later the link is back, within keepalive + 5 s.
 */
export function watchdogIntervalSeconds(spec: Pick<WgInterfaceSpec, "peers">): number {
    const keepalives = spec.peers.flatMap((p) => (p.persistentKeepalive !== undefined ? [p.persistentKeepalive] : []));
    const k = Math.min(25, ...keepalives);
    return Math.max(2, Math.min(WATCHDOG_MAX_INTERVAL_SECONDS, k));
}

/**
 * The watchdog script (run every `watchdogIntervalSeconds` by a systemd timer or an OpenRC service, or in a
 * loop with `--every <seconds>`). Idempotent; it prints one `repaired:` line per repair:
 * - the interface is gone (wireguard-go died, the interface was deleted) while its config is there: it brings
 *   it up with `wg-quick up`;
 * - a peer this host dials does not answer two pings at its overlay address although a handshake had
 *   completed: its session is stale (the peer, e.g. a hub, restarted and forgot it, and drops our keepalives;
 *   WireGuard itself would wait for its 120 s rekey). It removes the peer and adds it again with the same
 *   settings (`wg showconf`), and pings, which starts a new handshake at once. With no handshake yet it does
 *   nothing: WireGuard is handshaking already.
 */
export function renderWatchdogScript(interfaceName: string, peers: readonly WgPeerSpec[]): string {
    const list = peers.map((p) => `${p.name} ${p.publicKey} ${p.address}`).join("\n");
    return `#!/usr/bin/env bash
# managed by hybridinfra: do not edit, changes are overwritten
# Watchdog of WireGuard ${interfaceName}: brings it up when it is gone, and starts a new handshake with a peer
# it dials when that peer stopped answering (it restarted and lost the session). Prints what it repaired.
# Usage: $0 (one run), or $0 --every SECONDS (runs forever, as the OpenRC service does).
set -u
if [ "\${1:-}" = --every ]; then
  while :; do "$0"; sleep "$2"; done
fi
IF=${shellQuote(interfaceName)}
CONF=${shellQuote(configPath(interfaceName))}
say() { printf 'hybridinfra-wg-watchdog %s: %s\\n' "$IF" "$*"; }
answers() { ping -c 1 -W 1 "$1" >/dev/null 2>&1 || ping -c 1 -W 1 "$1" >/dev/null 2>&1; }
if ! ip link show dev "$IF" >/dev/null 2>&1; then
  [ -f "$CONF" ] || exit 0
  if out="$(wg-quick up "$IF" 2>&1)"; then
    say "repaired: $IF was gone (its WireGuard process died or the interface was deleted); brought it up with wg-quick up"
  else
    say "could not bring $IF up: $out" >&2
    exit 1
  fi
fi
handshakes="$(wg show "$IF" latest-handshakes 2>/dev/null)" || exit 0
while read -r name key address; do
  [ -n "$key" ] || continue
  last="$(printf '%s\\n' "$handshakes" | awk -v k="$key" '$1 == k { print $2 }')"
  # A peer missing from the interface is the config step's business.
  [ -n "$last" ] || continue
  answers "$address" && continue
  # No handshake yet: WireGuard is handshaking already (the ping started it).
  [ "$last" != 0 ] || continue
  section="$(wg showconf "$IF" | awk -v k="$key" '
    /^\\[/ { if (keep) exit; peer = ($0 == "[Peer]"); buf = $0 "\\n"; next }
    peer { buf = buf $0 "\\n"; if ($0 == "PublicKey = " k) keep = 1 }
    END { if (keep) printf "%s", buf }')"
  [ -n "$section" ] || continue
  age=$(($(date +%s) - last))
  wg set "$IF" peer "$key" remove
  if ! wg addconf "$IF" <(printf '%s\\n' "$section"); then
    say "could not add peer $name back to $IF: run the wg-config step again" >&2
    exit 1
  fi
  if answers "$address"; then
    say "repaired: peer $name ($address) stopped answering $age s after the last handshake (it restarted?); re-added it: a new handshake completed, it answers"
  else
    say "peer $name ($address) stopped answering $age s after the last handshake; re-added it: WireGuard is handshaking (the peer may be down)"
  fi
done <<'HI_PEERS'
${list}
HI_PEERS
exit 0
`;
}

function watchdogServiceUnit(interfaceName: string, script: string): string {
    return `# managed by hybridinfra: do not edit, changes are overwritten
[Unit]
Description=Watchdog of WireGuard ${interfaceName}: brings it up, re-handshakes with peers that lost the session
After=wg-quick@${interfaceName}.service

[Service]
Type=oneshot
ExecStart=${script}
`;
}

function watchdogTimerUnit(interfaceName: string, every: number): string {
    return `# managed by hybridinfra: do not edit, changes are overwritten
[Unit]
Description=Watchdog of WireGuard ${interfaceName} every ${every} s

[Timer]
OnBootSec=${every}
OnUnitActiveSec=${every}
AccuracySec=1s

[Install]
WantedBy=timers.target
`;
}

function watchdogOpenrcService(interfaceName: string, every: number): string {
    const paths = watchdogPaths(interfaceName);
    return `#!/sbin/openrc-run
# managed by hybridinfra: do not edit, changes are overwritten
description="Watchdog of WireGuard ${interfaceName} every ${every} s"
supervisor=supervise-daemon
command=${paths.script}
command_args="--every ${every}"
output_log=${paths.log}
error_log=${paths.log}
depend() {
  need net
  after wg-quick.${interfaceName}
}
`;
}

/** The config step's watchdog part: the script, and a systemd timer or an OpenRC service that runs it. */
function renderWatchdogBlock(spec: WgInterfaceSpec): string {
    const paths = watchdogPaths(spec.interfaceName);
    const peers = watchdogPeers(spec);
    const every = watchdogIntervalSeconds(spec);
    const timer = shellQuote(`${paths.unit}.timer`);
    return `# Watchdog every ${every} s: ${spec.interfaceName} back up when it dies${peers.length > 0 ? `; a new handshake when ${peers.map((p) => p.name).join(", ")} lost the session` : ""}.
${writeFileSnippet(paths.script, renderWatchdogScript(spec.interfaceName, peers), "0755", "root:root", "")}
case "$HI_INIT" in
  systemd)
${writeFileSnippet(paths.service, watchdogServiceUnit(spec.interfaceName, paths.script), "0644", "root:root", "")}
${writeFileSnippet(paths.timer, watchdogTimerUnit(spec.interfaceName, every), "0644", "root:root", "")}
    systemctl daemon-reload
    if ! systemctl is-enabled --quiet ${timer} 2>/dev/null || ! systemctl is-active --quiet ${timer} 2>/dev/null; then
      systemctl enable --now ${timer} >/dev/null 2>&1
      HI_CHANGED=1
      hi_log "enabled ${paths.unit}.timer: the watchdog runs every ${every} s"
    fi ;;
  openrc)
    wd_before="$(cksum <${shellQuote(paths.openrc)} 2>/dev/null || true)"
${writeFileSnippet(paths.openrc, watchdogOpenrcService(spec.interfaceName, every), "0755", "root:root", "")}
    if [ "$(cksum <${shellQuote(paths.openrc)})" != "$wd_before" ] && rc-service ${shellQuote(paths.unit)} status >/dev/null 2>&1; then
      rc-service ${shellQuote(paths.unit)} restart >/dev/null
      hi_log "restarted ${paths.unit}: its interval changed"
    fi
    hi_service_enable ${shellQuote(paths.unit)} ;;
  *)
    hi_warn "no init system: run '${paths.script} --every ${every}' in the background so ${spec.interfaceName} heals itself" ;;
esac`;
}

/** Removes the watchdog script and units (the interface is deleted). */
function renderWatchdogRemoval(interfaceName: string): string {
    const paths = watchdogPaths(interfaceName);
    return `case "$HI_INIT" in
  systemd)
    if systemctl is-enabled --quiet ${shellQuote(`${paths.unit}.timer`)} 2>/dev/null; then
      systemctl disable --now ${shellQuote(`${paths.unit}.timer`)} >/dev/null 2>&1 || true
      HI_CHANGED=1
      hi_log "disabled ${paths.unit}.timer"
    fi ;;
  openrc)
    if [ -e ${shellQuote(paths.openrc)} ]; then
      hi_service_disable ${shellQuote(paths.unit)}
      HI_CHANGED=1
      hi_log "stopped ${paths.unit}"
    fi ;;
esac
for f in ${shellQuote(paths.timer)} ${shellQuote(paths.service)} ${shellQuote(paths.openrc)} ${shellQuote(paths.script)}; do
  [ ! -e "$f" ] || hi_remove_managed_file "$f"
done`;
}

export function sysctlPath(interfaceName: string): string {
    return `/etc/sysctl.d/99-hybridinfra-${interfaceName}.conf`;
}

/**
 * Where the config step records the live `net.ipv4.ip_forward` it found before turning forwarding on: the
 * delete restores that value, so a destroyed host forwards again only if it did before.
 */
export function sysctlRecordPath(interfaceName: string): string {
    return `/var/lib/hybridinfra/sysctl-${interfaceName}.before`;
}

function commonVars(interfaceName: string, withPaths: boolean): string {
    const ch = chainNames(interfaceName);
    return [
        `WG_IF=${shellQuote(interfaceName)}`,
        ...(withPaths
            ? [
                  `WG_CONF=${shellQuote(configPath(interfaceName))}`,
                  `WG_OPENRC=${shellQuote(`/etc/init.d/wg-quick.${interfaceName}`)}`,
              ]
            : []),
        `WG_SYSCTL=${shellQuote(sysctlPath(interfaceName))}`,
        ...(withPaths ? [`WG_SYSCTL_BEFORE=${shellQuote(sysctlRecordPath(interfaceName))}`] : []),
        `WG_CHAIN_IN=${shellQuote(ch.input)}`,
        `WG_CHAIN_FWD=${shellQuote(ch.forward)}`,
        `WG_CHAIN_NAT=${shellQuote(ch.nat)}`,
        `WG_FW_RECORD=${shellQuote(firewalldRecordPath(interfaceName))}`,
        `WG_FW_TAG=${shellQuote(ufwTag(interfaceName))}`,
        "",
    ].join("\n");
}

function openrcScript(interfaceName: string): string {
    return `#!/sbin/openrc-run
# managed by hybridinfra: do not edit, changes are overwritten
description="WireGuard interface ${interfaceName}"
depend() {
  need net
  after firewall
}
start() {
  ebegin "Starting WireGuard interface ${interfaceName}"
  wg-quick up ${interfaceName}
  eend $?
}
stop() {
  ebegin "Stopping WireGuard interface ${interfaceName}"
  wg-quick down ${interfaceName}
  eend $?
}
`;
}

/**
 * Subnet routers print, per LAN, the exact routes a plain host there (a NAS, a printer: no WireGuard) needs
 * when this host is not its default gateway: the overlay's own traffic is masqueraded into the LAN and needs
 * none, but traffic from the other sites' LANs keeps its source address, so the plain host answers it (and
 * reaches those LANs) only through this host (`lanRoutesFromPeers`: the overlay CIDR and what its peers route
 * beyond it). The router's address on the LAN is read on the host (`ip route get` to the LAN's first address).
 * Empty without a LAN; changes nothing on the host.
 */
export function renderLanRouteHint(spec: Pick<WgInterfaceSpec, "lan" | "overlayCidr" | "peers">): string {
    const routes = lanRoutesFromPeers(spec.overlayCidr, spec.lan, spec.peers);
    if (routes.length === 0) return "";
    return spec.lan
        .map((l) => {
            const c = parseCidrStrict(l);
            const probe = nthAddress(c, cidrSize(c) > 1 ? 1 : 0);
            return [
                `# Plain hosts on ${l} without this host as their gateway route these via it (see renderLanRouteHint).`,
                `WG_LAN_VIA="$(ip -4 -o route get ${probe} 2>/dev/null | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p')"`,
                `if [ -n "$WG_LAN_VIA" ]; then`,
                ...routes.map((r) => `  hi_log "plain hosts on ${l}: ip route add ${r} via $WG_LAN_VIA"`),
                "else",
                `  hi_warn "no route to ${l} here: this host cannot forward into it"`,
                "fi",
            ].join("\n");
        })
        .join("\n");
}

/**
 * Body of the `wg-config` step: writes the config (0600, keys from stdin), applies it live with
 * `wg syncconf` when the interface is up (address, MTU and routes reconciled, never a restart) or brings
 * it up, enables it at boot, opens the overlay in the host firewall on every host (`hostFirewallRules`, in
 * whichever of iptables, firewalld or ufw is in charge), and sets forwarding rules on hubs, gateways and
 * subnet routers.
 */
export function renderConfigBody(spec: WgInterfaceSpec): string {
    const prefix = spec.overlayCidr.split("/")[1];
    // What wg-quick would route: every AllowedIPs entry.
    const routes = [...new Set(spec.peers.flatMap((p) => p.allowedIps))];
    const forwardRules = [
        `-i ${spec.interfaceName} -o ${spec.interfaceName} -j ACCEPT`,
        ...spec.lan.flatMap((l) => [`-i ${spec.interfaceName} -d ${l} -j ACCEPT`, `-o ${spec.interfaceName} -s ${l} -j ACCEPT`]),
    ];
    const natRules = spec.lan.map((l) => `-s ${spec.overlayCidr} -d ${l} -j MASQUERADE`);
    const chainBlock = (table: string, hook: string, chainVar: string, rules: string[]): string =>
        rules.length > 0
            ? `hi_wg_chain ${table} ${hook} "$${chainVar}" <<'HI_RULES'\n${rules.join("\n")}\nHI_RULES`
            : `hi_wg_chain_remove ${table} ${hook} "$${chainVar}"`;

    return `${commonVars(spec.interfaceName, false)}WG_ADDR=${shellQuote(`${spec.address}/${prefix}`)}
WG_MTU=${spec.mtu}
WG_ROUTES=(${routes.map(shellQuote).join(" ")})
${firewallFunctions()}
# A digest of the live peer state (keys, allowed IPs, keepalive); endpoints roam, so they are left out.
hi_wg_state() {
  wg show "$WG_IF" dump 2>/dev/null | awk -F '\\t' 'NR == 1 { print $1, $3, $4; next } { print $1, $2, $4, $8 }' | sort | cksum
}
hi_wg_route_key() { case "$1" in */*) printf '%s' "$1" ;; *) printf '%s/32' "$1" ;; esac; }

mkdir -p /etc/wireguard
chmod 0700 /etc/wireguard
${writeFileSnippet(configPath(spec.interfaceName), renderWgConf(spec), "0600")}

case "$HI_INIT" in
  systemd)
    if ! systemctl is-enabled --quiet "wg-quick@$WG_IF" 2>/dev/null; then
      systemctl enable "wg-quick@$WG_IF" >/dev/null 2>&1
      HI_CHANGED=1
      hi_log "enabled wg-quick@$WG_IF at boot"
    fi ;;
  openrc)
${writeFileSnippet(`/etc/init.d/wg-quick.${spec.interfaceName}`, openrcScript(spec.interfaceName), "0755", "root:root", "")}
    if ! rc-update show default 2>/dev/null | grep -q "^ *wg-quick.$WG_IF "; then
      rc-update add "wg-quick.$WG_IF" default >/dev/null
      HI_CHANGED=1
      hi_log "enabled wg-quick.$WG_IF at boot"
    fi ;;
  *)
    hi_warn "no init system (systemd or OpenRC) found: $WG_IF is not brought up at boot; run 'wg-quick up $WG_IF' after a reboot" ;;
esac

if ip link show dev "$WG_IF" >/dev/null 2>&1; then
  before="$(hi_wg_state)"
  wg syncconf "$WG_IF" <(wg-quick strip "$WG_IF")
  if [ "$(hi_wg_state)" != "$before" ]; then
    HI_CHANGED=1
    hi_log "synced $WG_IF live with wg syncconf: peers changed (interface not restarted)"
  else
    hi_log "peers of $WG_IF already in sync"
  fi
  addrs="$(ip -4 -o addr show dev "$WG_IF" | awk '{ print $4 }')"
  if ! printf '%s\\n' "$addrs" | grep -qxF "$WG_ADDR"; then
    ip address add "$WG_ADDR" dev "$WG_IF"
    HI_CHANGED=1
    hi_log "added address $WG_ADDR to $WG_IF"
  fi
  while read -r a; do
    if [ -n "$a" ] && [ "$a" != "$WG_ADDR" ]; then
      ip address del "$a" dev "$WG_IF"
      HI_CHANGED=1
      hi_log "removed old address $a from $WG_IF"
    fi
  done <<<"$addrs"
  if [ "$(cat "/sys/class/net/$WG_IF/mtu")" != "$WG_MTU" ]; then
    ip link set dev "$WG_IF" mtu "$WG_MTU"
    HI_CHANGED=1
    hi_log "set MTU $WG_MTU on $WG_IF"
  fi
  # Routes as wg-quick adds them: one per AllowedIPs entry not already covered by a route on the interface.
  for r in "\${WG_ROUTES[@]}"; do
    if [ -z "$(ip -4 route show dev "$WG_IF" match "$r" 2>/dev/null)" ]; then
      ip -4 route replace "$r" dev "$WG_IF"
      HI_CHANGED=1
      hi_log "added route $r via $WG_IF"
    fi
  done
  # Routes wg-quick or an earlier run added (proto boot) for peers that are gone.
  while read -r dst _; do
    [ -n "$dst" ] || continue
    keep=0
    for r in "\${WG_ROUTES[@]}"; do
      if [ "$(hi_wg_route_key "$r")" = "$(hi_wg_route_key "$dst")" ]; then keep=1; fi
    done
    if [ "$keep" = 0 ]; then
      ip -4 route del "$dst" dev "$WG_IF"
      HI_CHANGED=1
      hi_log "removed stale route $dst from $WG_IF"
    fi
  done < <(ip -4 route show dev "$WG_IF" proto boot)
else
  case "$HI_INIT" in
    systemd) systemctl start "wg-quick@$WG_IF" ;;
    openrc) rc-service "wg-quick.$WG_IF" start ;;
    *) wg-quick up "$WG_IF" ;;
  esac
  HI_CHANGED=1
  hi_log "brought up $WG_IF"
fi

${
    spec.forward
        ? `WG_SYSCTL_BEFORE=${shellQuote(sysctlRecordPath(spec.interfaceName))}
hi_write_file "$WG_SYSCTL" 0644 root:root '#' <<'HI_FILE_EOF'
net.ipv4.ip_forward = 1
HI_FILE_EOF
if [ "$(cat /proc/sys/net/ipv4/ip_forward)" != 1 ]; then
  # The host's own value, for the delete to restore; recorded once (a later run finds forwarding on, or ours).
  if [ ! -e "$WG_SYSCTL_BEFORE" ]; then
    hi_write_file "$WG_SYSCTL_BEFORE" 0600 root:root '#' <<<"net.ipv4.ip_forward = $(cat /proc/sys/net/ipv4/ip_forward)"
  fi
  sysctl -w net.ipv4.ip_forward=1 >/dev/null
  HI_CHANGED=1
  hi_log "enabled IPv4 forwarding"
fi`
        : `# Not a forwarder: the sysctl file goes (live forwarding is left alone: other software may need it).
hi_remove_managed_file "$WG_SYSCTL"`
}
${renderFirewallBlock(spec)}
${chainBlock("filter", "FORWARD", "WG_CHAIN_FWD", spec.forward ? forwardRules : [])}
${chainBlock("nat", "POSTROUTING", "WG_CHAIN_NAT", spec.forward ? natRules : [])}${spec.lan.length > 0 ? `\n${renderLanRouteHint(spec)}` : ""}
${renderReresolveBlock(spec)}
${renderWatchdogBlock(spec)}
`;
}

/**
 * Body of the config step's delete: the interface goes down, the firewall chains, our ufw rules and the
 * firewalld entries this step added go, and the files go. IPv4 forwarding goes back to the value the config
 * step found before it turned forwarding on (k3s, which needs it, is uninstalled before: its install step
 * depends on this one), unless another of our sysctl files (ingress forward, Tailscale) still asks for it.
 * /var/lib/hybridinfra goes when nothing is left in it.
 */
export function renderConfigDeleteBody(spec: Pick<WgInterfaceSpec, "interfaceName">): string {
    return `${commonVars(spec.interfaceName, true)}${firewallFunctions()}
# The watchdog goes first: it would bring the interface up again.
${renderWatchdogRemoval(spec.interfaceName)}
if ip link show dev "$WG_IF" >/dev/null 2>&1; then
  case "$HI_INIT" in
    systemd) systemctl stop "wg-quick@$WG_IF" >/dev/null 2>&1 || true ;;
    openrc) rc-service "wg-quick.$WG_IF" stop >/dev/null 2>&1 || true ;;
  esac
  if ip link show dev "$WG_IF" >/dev/null 2>&1; then
    if [ -f "$WG_CONF" ]; then wg-quick down "$WG_IF" || ip link del dev "$WG_IF"; else ip link del dev "$WG_IF"; fi
  fi
  HI_CHANGED=1
  hi_log "brought down $WG_IF"
fi
case "$HI_INIT" in
  systemd) systemctl disable "wg-quick@$WG_IF" >/dev/null 2>&1 || true ;;
  openrc)
    rc-update del "wg-quick.$WG_IF" default >/dev/null 2>&1 || true
    hi_remove_managed_file "$WG_OPENRC" ;;
esac
hi_wg_chain_remove filter INPUT "$WG_CHAIN_IN"
hi_ufw_remove "$WG_FW_TAG"
hi_fwd_remove "$WG_FW_RECORD"
hi_wg_chain_remove filter FORWARD "$WG_CHAIN_FWD"
hi_wg_chain_remove nat POSTROUTING "$WG_CHAIN_NAT"
hi_remove_managed_file "$WG_SYSCTL"
if [ -f "$WG_SYSCTL_BEFORE" ]; then
  was="$(sed -n 's/^net\\.ipv4\\.ip_forward = \\([0-9]\\)$/\\1/p' "$WG_SYSCTL_BEFORE")"
  others="$(grep -lE '^net\\.ipv4\\.ip_forward *= *1' /etc/sysctl.d/*hybridinfra* 2>/dev/null || true)"
  if [ -n "$others" ]; then
    hi_log "IPv4 forwarding stays on: $(printf '%s' "$others" | tr '\\n' ' ')still asks for it"
  elif [ -n "$was" ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$was" ]; then
    sysctl -w "net.ipv4.ip_forward=$was" >/dev/null
    HI_CHANGED=1
    hi_log "restored net.ipv4.ip_forward = $was, its value before $WG_IF turned forwarding on"
  fi
  hi_remove_managed_file "$WG_SYSCTL_BEFORE"
fi
hi_remove_managed_file "$WG_CONF"
${renderReresolveRemoval(spec.interfaceName)}
rmdir /var/lib/hybridinfra 2>/dev/null || true
`;
}
