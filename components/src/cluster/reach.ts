/**
 * Cluster-wide checks of how the machine that runs `pulumi up` reaches the hosts, run before anything is
 * registered and shared with the stack-config validation (`infra/config.ts`), so every problem is reported
 * at once with its config path.
 */
import { HybridInfraConfigError, showValue } from "../util/errors";
import { sshReachProblems } from "../host/reach";
import { OVERLAY_DEFAULTS, planOverlayAddresses } from "../wireguard";
import { compact } from "../util/compact";

/** The parts of a host the reachability checks read (a cluster host or a parsed stack-config host). */
export interface ReachClusterHost {
    readonly name: string;
    readonly location: string;
    readonly publicEndpoint?: string;
    readonly roles: readonly string[];
    readonly ssh: { readonly address: string; readonly port?: number; readonly jumpHost?: string };
    readonly overlayAddress?: string;
}

/** The parts of a cluster spec the API endpoint check reads. */
export interface ReachClusterSpec {
    readonly hosts: readonly ReachClusterHost[];
    readonly overlay?: { readonly kind?: string; readonly cidr?: string };
    readonly k3s?: { readonly kubeconfigEndpoint?: string; readonly kubeconfigEndpointIsExternal?: boolean };
}

/** Every problem of the SSH jump graph of a cluster's hosts (see `sshReachProblems`). Pure. */
export function clusterReachProblems(hosts: readonly ReachClusterHost[]): HybridInfraConfigError[] {
    return sshReachProblems(
        hosts.map((h) => ({
            name: h.name,
            address: h.ssh.address,
            location: h.location,
            ...compact({ port: h.ssh.port, jumpHost: h.ssh.jumpHost, publicEndpoint: h.publicEndpoint }),
        })),
    );
}

/**
 * A given `k3s.kubeconfigEndpoint` must be an address of a k3s server (its SSH address, its public address or,
 * with WireGuard, its overlay address), unless `k3s.kubeconfigEndpointIsExternal` declares it the user's own
 * (a load balancer or DNS name). Otherwise the exported kubeconfig, and every Kubernetes object, would point
 * at nothing. Pure.
 */
export function kubeconfigEndpointProblems(spec: ReachClusterSpec): HybridInfraConfigError[] {
    const endpoint = spec.k3s?.kubeconfigEndpoint;
    const external = spec.k3s?.kubeconfigEndpointIsExternal === true;
    if (endpoint === undefined) {
        return external
            ? [
                  new HybridInfraConfigError(
                      "k3s.kubeconfigEndpointIsExternal",
                      "is true, but k3s.kubeconfigEndpoint is not set",
                      "set k3s.kubeconfigEndpoint to your load balancer or DNS name, or remove kubeconfigEndpointIsExternal to derive the endpoint",
                  ),
              ]
            : [];
    }
    if (external) return [];
    const servers = spec.hosts.filter((h) => h.roles.includes("server"));
    let overlay: Record<string, string> = {};
    if ((spec.overlay?.kind ?? "wireguard") === "wireguard") {
        try {
            overlay = planOverlayAddresses(spec.hosts, spec.overlay?.cidr ?? OVERLAY_DEFAULTS.cidr);
        } catch {
            // A bad overlay CIDR is reported by the overlay's own validation; compare without overlay addresses.
        }
    }
    const owned = servers.map((h) => ({
        name: h.name,
        addresses: [
            ["ssh.address", h.ssh.address],
            ...(h.publicEndpoint !== undefined ? [["publicEndpoint", h.publicEndpoint.replace(/:\d+$/, "")]] : []),
            ...(overlay[h.name] !== undefined ? [["overlay address", overlay[h.name]]] : []),
        ] as [string, string][],
    }));
    const wanted = endpoint.toLowerCase();
    if (owned.some((s) => s.addresses.some(([, a]) => a.toLowerCase() === wanted))) return [];
    const list = owned.map((s) => `${s.name}: ${s.addresses.map(([what, a]) => `${what} ${showValue(a)}`).join(", ")}`).join("; ");
    const derived = servers.find((h) => h.publicEndpoint !== undefined || h.ssh.jumpHost === undefined);
    return [
        new HybridInfraConfigError(
            "k3s.kubeconfigEndpoint",
            `${showValue(endpoint)} is no address of a k3s server (${list})`,
            `remove it to use the address of the first server pulumi up reaches${derived !== undefined ? ` (${derived.name} at ${showValue(derived.publicEndpoint?.replace(/:\d+$/, "") ?? derived.ssh.address)})` : ""}, ` +
                "or use one of the addresses above, or, if it is your own load balancer or DNS name in front of the servers, set k3s.kubeconfigEndpointIsExternal: true",
        ),
    ];
}
