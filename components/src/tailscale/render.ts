import { secretPlaceholder, writeFileSnippet } from "../host/script";
import { shellQuote } from "../util/shell";
import { TAILSCALE_INTERFACE, TailscaleHostPlan } from "./plan";

const AUTH_KEY_FILE = "/var/lib/hybridinfra/tailscale-authkey";
const SYSCTL_FILE = "/etc/sysctl.d/90-hybridinfra-tailscale.conf";

/** The arguments of `tailscale up`. Every flag is given each time: tailscale does not persist omitted ones. */
export function tailscaleUpArgs(plan: TailscaleHostPlan): string[] {
    return [
        "--reset",
        `--hostname=${plan.hostname}`,
        `--auth-key=file:${AUTH_KEY_FILE}`,
        ...(plan.loginServer !== undefined ? [`--login-server=${plan.loginServer}`] : []),
        `--advertise-routes=${plan.advertiseRoutes.join(",")}`,
        // Seed 002: keep client source addresses when routing into a site's LAN.
        ...(plan.advertiseRoutes.length > 0 ? ["--snat-subnet-routes=false"] : []),
        `--accept-routes=${plan.acceptRoutes}`,
        // Never route through an exit node: it would swallow the pod CIDR 10.42.0.0/16 (seed 003).
        "--exit-node=",
        "--advertise-exit-node=false",
    ];
}

/** Installs tailscale when missing (official packages), then enables tailscaled. */
export function renderTailscaleInstall(): string {
    return [
        "if command -v tailscale >/dev/null 2>&1 && command -v tailscaled >/dev/null 2>&1; then",
        '  hi_log "tailscale present: $(tailscale version | head -n 1)"',
        "else",
        '  case "$HI_PKG" in',
        "    apk) hi_pkg_install tailscale ;;",
        "    *)",
        "      hi_ensure_cmd curl curl curl curl",
        '      hi_log "installing tailscale with the official install script"',
        "      curl -fsSL https://tailscale.com/install.sh | sh",
        "      HI_CHANGED=1 ;;",
        "  esac",
        "fi",
        "hi_service_enable tailscaled",
    ].join("\n");
}

/** Writes the auth key (0600, from stdin), runs `tailscale up`, prints the tailnet address. */
export function renderTailscaleUp(plan: TailscaleHostPlan): string {
    const lines = [
        writeFileSnippet(AUTH_KEY_FILE, secretPlaceholder("tailscale_auth_key"), "0600", "root:root", ""),
    ];
    if (plan.forwarding) {
        lines.push(
            writeFileSnippet(SYSCTL_FILE, "net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1", "0644"),
            'if [ "$(sysctl -n net.ipv4.ip_forward)" != 1 ]; then sysctl -q -w net.ipv4.ip_forward=1; HI_CHANGED=1; fi',
        );
    }
    const args = tailscaleUpArgs(plan).map(shellQuote).join(" ");
    lines.push(
        `want_routes=${shellQuote(plan.advertiseRoutes.join(","))}`,
        'state="$(tailscale status --json 2>/dev/null | sed -n \'s/^[[:space:]]*"BackendState":[[:space:]]*"\\([A-Za-z]*\\)".*/\\1/p\' | head -n 1 || true)"',
        'prefs_file="/var/lib/hybridinfra/tailscale-up.args"',
        `want_args=${shellQuote(args)}`,
        ...(plan.ownSiteRoutes.length > 0 && !plan.acceptRoutes
            ? [`hi_log ${shellQuote(`accept-routes off: this location's own LAN (${plan.ownSiteRoutes.join(", ")}) is advertised by another host here, and accepting it would route the LAN into ${TAILSCALE_INTERFACE}`)}`]
            : []),
        'if [ "$state" = "Running" ] && [ -f "$prefs_file" ] && [ "$(cat "$prefs_file")" = "$want_args" ]; then',
        '  hi_log "tailscale already up with the same settings"',
        "else",
        '  hi_log "tailscale up (state: ${state:-none}; routes: ${want_routes:-none})"',
        `  tailscale up ${args}`,
        '  printf \'%s\\n\' "$want_args" >"$prefs_file"',
        "  HI_CHANGED=1",
        "fi",
        `ip link show ${TAILSCALE_INTERFACE} >/dev/null 2>&1 || hi_fail "interface ${TAILSCALE_INTERFACE} is missing after tailscale up"`,
        'addr="$(tailscale ip -4 | head -n 1)"',
        '[ -n "$addr" ] || hi_fail "tailscale has no IPv4 address; check the auth key and the login server"',
        // Parsed by the component into the overlay address k3s uses as node-ip.
        'printf \'hybridinfra-address=%s\\n\' "$addr"',
    );
    return lines.join("\n");
}

/** Leaves the tailnet and removes the key; tailscale itself stays installed. */
export function renderTailscaleDown(): string {
    return [
        "if command -v tailscale >/dev/null 2>&1; then tailscale down || true; fi",
        `hi_remove_managed_file ${AUTH_KEY_FILE} --any`,
        "rm -f /var/lib/hybridinfra/tailscale-up.args",
        `hi_remove_managed_file ${SYSCTL_FILE}`,
    ].join("\n");
}

/** The tailnet address printed by the up step, or undefined when the output has none. */
export function parseTailscaleAddress(stdout: string): string | undefined {
    const m = /^hybridinfra-address=(\d+\.\d+\.\d+\.\d+)$/m.exec(stdout);
    return m?.[1];
}
