/**
 * The file formats of a host's WireGuard interface: the wg-quick config (INI), the systemd units and OpenRC
 * services the wg-config step installs, the spec they are rendered from, and the paths and names they use.
 * Pure text; the bash of the steps is in scripts.ts and the .sh files next to it.
 */
import { secretPlaceholder } from "../host/script";

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

/** The file where the config step records the firewalld entries it added (removed on delete). */
export function firewalldRecordPath(interfaceName: string): string {
    return `/var/lib/hybridinfra/firewalld-${interfaceName}`;
}

/** The comment on every ufw rule the config step adds: how delete finds ours. */
export function ufwTag(interfaceName: string): string {
    return `hybridinfra-${interfaceName}`;
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

/** The OpenRC service of the interface on hosts without systemd. */
export function wgQuickOpenrcPath(interfaceName: string): string {
    return `/etc/init.d/wg-quick.${interfaceName}`;
}

/** The OpenRC service that brings the interface up at boot with wg-quick (`wgQuickOpenrcPath`). */
export function wgQuickOpenrcScript(interfaceName: string): string {
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

/** The systemd service that runs the re-resolve script once. */
export function reresolveServiceUnit(interfaceName: string, script: string): string {
    return `# managed by hybridinfra: do not edit, changes are overwritten
[Unit]
Description=Re-resolve DNS-name endpoints of WireGuard ${interfaceName}
After=wg-quick@${interfaceName}.service

[Service]
Type=oneshot
ExecStart=${script}
`;
}

/** The systemd timer that runs the re-resolve service every `every` seconds. */
export function reresolveTimerUnit(interfaceName: string, every: number): string {
    return `# managed by hybridinfra: do not edit, changes are overwritten
[Unit]
Description=Re-resolve DNS-name endpoints of WireGuard ${interfaceName} every ${every} s

[Timer]
OnBootSec=${every}
OnUnitActiveSec=${every}

[Install]
WantedBy=timers.target
`;
}

/** The OpenRC periodic job (`/etc/periodic/15min`) that runs the re-resolve script. */
export function reresolvePeriodicJob(script: string): string {
    return `#!/bin/sh\n# managed by hybridinfra: do not edit, changes are overwritten\nexec ${script}\n`;
}

/** The systemd service that runs the watchdog script once. */
export function watchdogServiceUnit(interfaceName: string, script: string): string {
    return `# managed by hybridinfra: do not edit, changes are overwritten
[Unit]
Description=Watchdog of WireGuard ${interfaceName}: brings it up, re-handshakes with peers that lost the session
After=wg-quick@${interfaceName}.service

[Service]
Type=oneshot
ExecStart=${script}
`;
}

/** The systemd timer that runs the watchdog service every `every` seconds. */
export function watchdogTimerUnit(interfaceName: string, every: number): string {
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

/** The OpenRC service that runs the watchdog script in a loop, every `every` seconds (`--every`). */
export function watchdogOpenrcService(interfaceName: string, every: number): string {
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
