/**
 * The bash bodies of the WireGuard host steps (`wg-install`, `wg-config` and their deletes; they run after the
 * host prelude, components/src/host/prelude.sh) and of the scripts the config step installs (watchdog,
 * re-resolve). The static shell is in the .sh files next to this file (wg-install.sh, wg-config.sh,
 * watchdog.sh, reresolve.sh: templates, see ../host/shellTemplate.ts; firewall.sh: functions); this file supplies only
 * what depends on values: variables, file contents, rules and the parts that differ per host.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { writeFileSnippet } from "../host/script";
import { loadShellTemplates } from "../host/shellTemplate";
import { cidr as parseCidrStrict, cidrSize, nthAddress } from "../util/cidr";
import { shellQuote } from "../util/shell";
import {
    chainNames,
    configPath,
    firewalldRecordPath,
    renderWgConf,
    reresolvePaths,
    reresolvePeriodicJob,
    reresolveServiceUnit,
    reresolveTimerUnit,
    sysctlPath,
    sysctlRecordPath,
    ufwTag,
    watchdogOpenrcService,
    watchdogPaths,
    watchdogServiceUnit,
    watchdogTimerUnit,
    WgInterfaceSpec,
    wgQuickOpenrcPath,
    wgQuickOpenrcScript,
    WgPeerSpec,
} from "./render";
import { lanRoutesFromPeers } from "./subnets";
import { parseEndpoint } from "./validate";

/** Shell functions shared by the config step and its delete (see firewall.sh next to this file). */
const FIREWALL_FUNCTIONS: string = fs.readFileSync(path.join(__dirname, "firewall.sh"), "utf8");
const INSTALL = loadShellTemplates(__dirname, "wg-install.sh");
const CONFIG = loadShellTemplates(__dirname, "wg-config.sh");
const WATCHDOG = loadShellTemplates(__dirname, "watchdog.sh").get("watchdog");
const RERESOLVE = loadShellTemplates(__dirname, "reresolve.sh").get("reresolve");

/** A rendered template as a block inside another one (without its final newline). */
function block(text: string): string {
    return text.replace(/\n$/, "");
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
    return INSTALL.get("install").render({
        interface: shellQuote(spec.interfaceName),
        "firewall-tools": spec.firewall ? "hi_ensure_cmd iptables iptables iptables iptables" : undefined,
    });
}

/** Body of the install step's delete: the tools stay (other software may use them). */
export function renderInstallDeleteBody(): string {
    return INSTALL.get("delete").render();
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

/**
 * The re-resolve script: like wireguard-tools' `examples/reresolve-dns/reresolve-dns.sh`, it sets the endpoint
 * of every peer with a DNS-name endpoint again (which resolves the name anew) when its last handshake is older
 * than 135 s, so a home hub whose IP changed is found again. Only peers that exist are touched (`wg set` would
 * add a missing one).
 */
export function renderReresolveScript(interfaceName: string, peers: readonly WgPeerSpec[]): string {
    return RERESOLVE.render({
        interface: interfaceName,
        after: String(RERESOLVE_AFTER_SECONDS),
        if: shellQuote(interfaceName),
        peers: peers.map((p) => `${p.publicKey} ${p.endpoint}`).join("\n"),
    });
}

/**
 * The systemd branch that installs a service and its timer (the re-resolve job, the watchdog), and enables the
 * timer when it is not enabled and active yet, logging `enabled <unit>.timer: <what>`.
 */
function systemdTimerInstall(paths: { readonly service: string; readonly timer: string; readonly unit: string }, service: string, timerUnit: string, what: string): string {
    const timer = shellQuote(`${paths.unit}.timer`);
    return `${writeFileSnippet(paths.service, service, "0644", "root:root", "")}
${writeFileSnippet(paths.timer, timerUnit, "0644", "root:root", "")}
    systemctl daemon-reload
    if ! systemctl is-enabled --quiet ${timer} 2>/dev/null || ! systemctl is-active --quiet ${timer} 2>/dev/null; then
      systemctl enable --now ${timer} >/dev/null 2>&1
      HI_CHANGED=1
      hi_log "enabled ${paths.unit}.timer: ${what}"
    fi ;;`;
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
${systemdTimerInstall(paths, reresolveServiceUnit(spec.interfaceName, paths.script), reresolveTimerUnit(spec.interfaceName, RERESOLVE_INTERVAL_SECONDS), `re-resolves name endpoints every ${RERESOLVE_INTERVAL_SECONDS} s`)}
  openrc)
    mkdir -p /etc/periodic/15min
${writeFileSnippet(paths.periodic, reresolvePeriodicJob(paths.script), "0755", "root:root", "")}
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
    return WATCHDOG.render({
        interface: interfaceName,
        if: shellQuote(interfaceName),
        conf: shellQuote(configPath(interfaceName)),
        peers: peers.map((p) => `${p.name} ${p.publicKey} ${p.address}`).join("\n"),
    });
}

/** The config step's watchdog part: the script, and a systemd timer or an OpenRC service that runs it. */
function renderWatchdogBlock(spec: WgInterfaceSpec): string {
    const paths = watchdogPaths(spec.interfaceName);
    const peers = watchdogPeers(spec);
    const every = watchdogIntervalSeconds(spec);
    return `# Watchdog every ${every} s: ${spec.interfaceName} back up when it dies${peers.length > 0 ? `; a new handshake when ${peers.map((p) => p.name).join(", ")} lost the session` : ""}.
${writeFileSnippet(paths.script, renderWatchdogScript(spec.interfaceName, peers), "0755", "root:root", "")}
case "$HI_INIT" in
  systemd)
${systemdTimerInstall(paths, watchdogServiceUnit(spec.interfaceName, paths.script), watchdogTimerUnit(spec.interfaceName, every), `the watchdog runs every ${every} s`)}
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

/** The variables both config bodies start with (the delete also gets the paths it removes). */
function commonVars(interfaceName: string, withPaths: boolean): string {
    const ch = chainNames(interfaceName);
    return [
        `WG_IF=${shellQuote(interfaceName)}`,
        ...(withPaths
            ? [
                  `WG_CONF=${shellQuote(configPath(interfaceName))}`,
                  `WG_OPENRC=${shellQuote(wgQuickOpenrcPath(interfaceName))}`,
              ]
            : []),
        `WG_SYSCTL=${shellQuote(sysctlPath(interfaceName))}`,
        ...(withPaths ? [`WG_SYSCTL_BEFORE=${shellQuote(sysctlRecordPath(interfaceName))}`] : []),
        `WG_CHAIN_IN=${shellQuote(ch.input)}`,
        `WG_CHAIN_FWD=${shellQuote(ch.forward)}`,
        `WG_CHAIN_NAT=${shellQuote(ch.nat)}`,
        `WG_FW_RECORD=${shellQuote(firewalldRecordPath(interfaceName))}`,
        `WG_FW_TAG=${shellQuote(ufwTag(interfaceName))}`,
    ].join("\n");
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
    const firewall = hostFirewallRules(spec);
    return CONFIG.get("config").render({
        vars: [
            commonVars(spec.interfaceName, false),
            `WG_ADDR=${shellQuote(`${spec.address}/${prefix}`)}`,
            `WG_MTU=${spec.mtu}`,
            `WG_ROUTES=(${routes.map(shellQuote).join(" ")})`,
        ].join("\n"),
        "firewall-functions": FIREWALL_FUNCTIONS,
        "wg-conf": writeFileSnippet(configPath(spec.interfaceName), renderWgConf(spec), "0600"),
        "openrc-service": writeFileSnippet(wgQuickOpenrcPath(spec.interfaceName), wgQuickOpenrcScript(spec.interfaceName), "0755", "root:root", ""),
        forwarding: block(
            spec.forward
                ? CONFIG.get("forwarding-on").render({ "sysctl-record": shellQuote(sysctlRecordPath(spec.interfaceName)) })
                : CONFIG.get("forwarding-off").render(),
        ),
        "port-note": spec.openListenPort || spec.forward ? " and the WireGuard port" : "",
        "firewalld-rules": firewall.firewalld.join("\n"),
        "ufw-rules": firewall.ufw.join("\n"),
        "iptables-rules": firewall.iptables.join("\n"),
        "forward-chain": chainBlock("filter", "FORWARD", "WG_CHAIN_FWD", spec.forward ? forwardRules : []),
        "nat-chain": chainBlock("nat", "POSTROUTING", "WG_CHAIN_NAT", spec.forward ? natRules : []),
        "lan-route-hint": spec.lan.length > 0 ? renderLanRouteHint(spec) : undefined,
        "name-endpoints": renderReresolveBlock(spec),
        watchdog: renderWatchdogBlock(spec),
    });
}

/**
 * Body of the config step's delete: the interface goes down, the firewall chains, our ufw rules and the
 * firewalld entries this step added go, and the files go. IPv4 forwarding goes back to the value the config
 * step found before it turned forwarding on (k3s, which needs it, is uninstalled before: its install step
 * depends on this one), unless another of our sysctl files (ingress forward, Tailscale) still asks for it.
 * /var/lib/hybridinfra goes when nothing is left in it.
 */
export function renderConfigDeleteBody(spec: Pick<WgInterfaceSpec, "interfaceName">): string {
    return CONFIG.get("delete").render({
        vars: commonVars(spec.interfaceName, true),
        "firewall-functions": FIREWALL_FUNCTIONS,
        "watchdog-removal": renderWatchdogRemoval(spec.interfaceName),
        "name-endpoints-removal": renderReresolveRemoval(spec.interfaceName),
    });
}
