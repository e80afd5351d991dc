import { HybridInfraConfigError, showValue } from "../util/errors";
import { SshCheckOptions, SshHostArgs, validateSshHosts } from "../host/model";
import { compact } from "../util/compact";

/** A machine that joins the tailnet. */
export interface TailscaleHostArgs extends SshHostArgs {
    /** Site of the machine (e.g. `home`, `tokyo`); becomes the node's region label in k3s. */
    readonly location: string;
    /**
     * LAN CIDRs this machine advertises as a subnet router (`--advertise-routes`), as seed 002 does per site.
     * @default none
     */
    readonly lan?: string[];
}

export interface TailscalePlanInput {
    readonly hosts: readonly TailscaleHostArgs[];
    readonly loginServer?: string;
    readonly acceptRoutes?: boolean;
}

/** What `tailscale up` is run with on one host. Pure data, rendered by render.ts. */
export interface TailscaleHostPlan {
    readonly name: string;
    readonly hostname: string;
    readonly loginServer?: string;
    readonly advertiseRoutes: readonly string[];
    readonly acceptRoutes: boolean;
    /**
     * LANs that other hosts of this host's location advertise: its own site's LANs. When there are any, the
     * host does not accept routes (`acceptRoutes` is false): Tailscale has no per-route filter, and a host that
     * accepted its own LAN's route would send its LAN traffic into `tailscale0` (Linux: table 52, consulted
     * before the main table) and lose the LAN.
     */
    readonly ownSiteRoutes: readonly string[];
    /** Subnet routers forward between the tailnet and their LAN. */
    readonly forwarding: boolean;
}

/** The interface tailscaled creates; k3s uses it as its flannel interface. */
export const TAILSCALE_INTERFACE = "tailscale0";

const CIDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function validCidr(value: string): boolean {
    const m = CIDR_RE.exec(value);
    return m !== null && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}

/** Checks a Tailscale overlay before any resource is registered. */
export function validateTailscale(input: TailscalePlanInput, authKeyGiven: boolean, path = "overlay.tailscale", options: SshCheckOptions = {}): void {
    if (options.sshChecked !== true) validateSshHosts(input.hosts);
    if (!authKeyGiven) {
        throw new HybridInfraConfigError(
            `${path}.authKey`,
            "is missing; a Tailscale or Headscale auth key is needed for hosts to join without a browser login",
            "create a reusable auth key (Headscale: `headscale preauthkeys create --reusable`) and run `pulumi config set --secret tailscaleAuthKey <key>`",
        );
    }
    if (input.loginServer !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(input.loginServer)) {
        throw new HybridInfraConfigError(
            `${path}.loginServer`,
            `must be the http(s) URL of a Headscale server, got ${showValue(input.loginServer)}`,
            "use e.g. `https://headscale.example.com`, or remove the key to use Tailscale's own coordination server",
        );
    }
    input.hosts.forEach((h, i) => {
        (h.lan ?? []).forEach((cidr, j) => {
            if (!validCidr(cidr)) {
                throw new HybridInfraConfigError(`hosts[${i}].lan[${j}]`, `is not an IPv4 CIDR, got ${showValue(cidr)}`, "write the LAN as e.g. `192.168.50.0/24`");
            }
            if (cidr.endsWith("/0")) {
                // A /0 route is an exit node in disguise: it would swallow the pod CIDR (seed 003).
                throw new HybridInfraConfigError(
                    `hosts[${i}].lan[${j}]`,
                    `advertises the default route ${showValue(cidr)}, which turns the host into an exit node and swallows the pod CIDR 10.42.0.0/16`,
                    "advertise only the site's LAN, e.g. `192.168.50.0/24`",
                );
            }
        });
    });
}

/**
 * Plans `tailscale up` for every host. Exit nodes are never used: an exit node swallows the pod CIDR.
 * Routes are accepted (unless `acceptRoutes` is false) by every host but those in the same location as
 * another host's subnet router: they reach their own LAN directly, and would lose it by accepting its route
 * (the WireGuard planner likewise leaves a host's own location's LANs out of its peers' AllowedIPs).
 */
export function planTailscale(input: TailscalePlanInput): TailscaleHostPlan[] {
    return input.hosts.map((h) => {
        const ownSiteRoutes = [...new Set(input.hosts.filter((o) => o !== h && o.location === h.location).flatMap((o) => o.lan ?? []))].sort();
        return {
            name: h.name,
            hostname: h.name,
            ...compact({ loginServer: input.loginServer }),
            advertiseRoutes: [...(h.lan ?? [])].sort(),
            acceptRoutes: (input.acceptRoutes ?? true) && ownSiteRoutes.length === 0,
            ownSiteRoutes,
            forwarding: (h.lan ?? []).length > 0,
        };
    });
}
