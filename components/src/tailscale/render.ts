/**
 * The Tailscale steps: `tailscale up`'s arguments, and the step bodies rendered from the bash templates in
 * ts-install.sh and ts-up.sh next to this file (see ../host/shellTemplate.ts); this file supplies only what
 * depends on values.
 */
import { secretPlaceholder, writeFileSnippet } from "../host/script";
import { loadShellTemplates } from "../host/shellTemplate";
import { shellQuote } from "../util/shell";
import { TAILSCALE_INTERFACE, TailscaleHostPlan } from "./plan";

const INSTALL = loadShellTemplates(__dirname, "ts-install.sh").get("install");
const UP = loadShellTemplates(__dirname, "ts-up.sh");

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
    return INSTALL.renderBlock();
}

/** Writes the auth key (0600, from stdin), runs `tailscale up`, prints the tailnet address. */
export function renderTailscaleUp(plan: TailscaleHostPlan): string {
    const args = tailscaleUpArgs(plan).map(shellQuote).join(" ");
    return UP.get("up").renderBlock({
        "auth-key-file": writeFileSnippet(AUTH_KEY_FILE, secretPlaceholder("tailscale_auth_key"), "0600", "root:root", ""),
        forwarding: plan.forwarding
            ? UP.get("forwarding").renderBlock({ "sysctl-file": writeFileSnippet(SYSCTL_FILE, "net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1", "0644") })
            : undefined,
        routes: shellQuote(plan.advertiseRoutes.join(",")),
        "want-args": shellQuote(args),
        "accept-routes-note":
            plan.ownSiteRoutes.length > 0 && !plan.acceptRoutes
                ? `hi_log ${shellQuote(`accept-routes off: this location's own LAN (${plan.ownSiteRoutes.join(", ")}) is advertised by another host here, and accepting it would route the LAN into ${TAILSCALE_INTERFACE}`)}`
                : undefined,
        args,
        interface: TAILSCALE_INTERFACE,
    });
}

/** Leaves the tailnet and removes the key; tailscale itself stays installed. */
export function renderTailscaleDown(): string {
    return UP.get("down").renderBlock({ "auth-key-file": AUTH_KEY_FILE, "sysctl-file": SYSCTL_FILE });
}

/** The tailnet address printed by the up step, or undefined when the output has none. */
export function parseTailscaleAddress(stdout: string): string | undefined {
    const m = /^hybridinfra-address=(\d+\.\d+\.\d+\.\d+)$/m.exec(stdout);
    return m?.[1];
}
