import * as pulumi from "@pulumi/pulumi";
import { HybridInfraConfigError, showValue } from "../util/errors";
import { SshHostArgs } from "../host/model";
import { ClusterHostArgs, HostRole, HybridClusterArgs, IngressMode, OverlayKind } from "./types";

/** The validated shape of a cluster, with defaults applied. Pure. */
export interface ClusterPlan {
    readonly overlayKind: OverlayKind;
    readonly ingressMode: IngressMode;
    /** k3s nodes, servers first in config order, then agents. */
    readonly servers: readonly ClusterHostArgs[];
    readonly agents: readonly ClusterHostArgs[];
    /** The host that forwards 80/443 (cloud-forward). */
    readonly forwardHost?: ClusterHostArgs;
    /** Every location some k3s node is in. */
    readonly locations: readonly string[];
}

const has = (h: ClusterHostArgs, role: HostRole) => h.roles.includes(role);

/**
 * Cross-checks the parts of a spec that no single component sees (the component validators check the
 * rest: the overlay, k3s and apps). Throws HybridInfraConfigError naming the config path.
 */
export function planCluster(args: HybridClusterArgs): ClusterPlan {
    const overlayKind = args.overlay?.kind ?? OverlayKind.WireGuard;
    const ingressMode = args.ingress?.mode ?? IngressMode.Traefik;
    const servers = args.hosts.filter((h) => has(h, HostRole.Server));
    const agents = args.hosts.filter((h) => has(h, HostRole.Agent) && !has(h, HostRole.Server));
    if (servers.length === 0) {
        throw new HybridInfraConfigError(
            "hosts",
            `no host has the role "server" (roles given: ${args.hosts.map((h) => `${h.name}=[${h.roles.join(",")}]`).join(" ")})`,
            "add `server` to the roles of the machine that should run the control plane (usually the most reliable one)",
        );
    }
    args.hosts.forEach((h, i) => {
        // A hub role under Tailscale is reported with the other keys of the other overlay kind (consistency.ts).
        if (has(h, HostRole.Ingress) && h.publicEndpoint === undefined) {
            throw new HybridInfraConfigError(`hosts[${i}].publicEndpoint`, `is missing on ${showValue(h.name)}, which has the role "ingress"`, "set the machine's public IP or DNS name, or remove the ingress role");
        }
    });
    let forwardHost: ClusterHostArgs | undefined;
    if (ingressMode === IngressMode.CloudForward) {
        const wanted = args.ingress?.forwardHost;
        const candidates = wanted !== undefined ? args.hosts.filter((h) => h.name === wanted) : args.hosts.filter((h) => has(h, HostRole.Ingress));
        if (wanted !== undefined && candidates.length === 0) {
            throw new HybridInfraConfigError("ingress.forwardHost", `names an unknown host ${showValue(wanted)}`, `use one of: ${args.hosts.map((h) => h.name).join(", ")}`);
        }
        if (candidates.length !== 1) {
            throw new HybridInfraConfigError(
                "ingress.forwardHost",
                wanted === undefined ? `is not set and ${candidates.length} hosts have the role "ingress"` : "is ambiguous",
                "set ingress.forwardHost to the public cloud node that forwards 80/443",
            );
        }
        forwardHost = candidates[0];
        if (forwardHost.publicEndpoint === undefined) {
            throw new HybridInfraConfigError("ingress.forwardHost", `names ${showValue(forwardHost.name)}, which has no publicEndpoint`, "forward from a machine with a public IP, and set its publicEndpoint");
        }
    }
    if (ingressMode === IngressMode.Traefik) {
        const publicNodes = [...servers, ...agents].filter((h) => h.publicEndpoint !== undefined);
        if (publicNodes.length === 0) {
            throw new HybridInfraConfigError(
                "ingress.mode",
                `is "traefik", but no k3s node has a publicEndpoint, so nothing on the internet can reach Traefik`,
                "use `cloud-forward` with a public cloud node, or `cloudflare-tunnel`, or give a k3s node a publicEndpoint",
            );
        }
    }
    if (ingressMode === IngressMode.CloudflareTunnel) {
        if (args.ingress?.cloudflare === undefined) {
            throw new HybridInfraConfigError("ingress.cloudflare", "is missing; the tunnel needs the Cloudflare account and zone", "set ingress.cloudflare.accountId and ingress.cloudflare.zoneId");
        }
        if (args.cloudflareApiToken === undefined) {
            throw new HybridInfraConfigError("cloudflareApiToken", "is not set; the tunnel, its config and DNS records are created with it", "run `pulumi config set --secret cloudflareApiToken <token>`");
        }
    }
    if (overlayKind === OverlayKind.Tailscale && args.tailscaleAuthKey === undefined) {
        throw new HybridInfraConfigError("tailscaleAuthKey", "is not set; hosts join the tailnet with it", "run `pulumi config set --secret tailscaleAuthKey <reusable auth key>`");
    }
    const locations = [...new Set([...servers, ...agents].map((h) => h.location))].sort();
    return { overlayKind, ingressMode, servers, agents, ...(forwardHost !== undefined ? { forwardHost } : {}), locations };
}

/** The private key a host connects with: its own, else the cluster's. */
export function hostKey(h: ClusterHostArgs, args: HybridClusterArgs): pulumi.Input<string> {
    return h.ssh.privateKey ?? args.sshPrivateKey;
}

/**
 * The SSH part every domain component takes. A jump host is resolved to its connection, so a component
 * can be given only its own hosts (e.g. k3s nodes whose jump host is a hub that is no k3s node).
 */
export function sshOf(h: ClusterHostArgs, args: HybridClusterArgs): SshHostArgs {
    const jump = h.ssh.jumpHost !== undefined ? args.hosts.find((j) => j.name === h.ssh.jumpHost) : undefined;
    return {
        name: h.name,
        address: h.ssh.host,
        ...(h.ssh.port !== undefined ? { port: h.ssh.port } : {}),
        ...(h.ssh.user !== undefined ? { user: h.ssh.user } : {}),
        privateKey: hostKey(h, args),
        ...(h.ssh.hostKey !== undefined ? { hostKey: h.ssh.hostKey } : {}),
        ...(h.ssh.jumpHost !== undefined ? { jumpHost: h.ssh.jumpHost } : {}),
        ...(h.ssh.dialErrorLimit !== undefined ? { dialErrorLimit: h.ssh.dialErrorLimit } : {}),
        ...(h.ssh.perDialTimeout !== undefined ? { perDialTimeout: h.ssh.perDialTimeout } : {}),
        ...(jump !== undefined
            ? {
                  jump: {
                      address: jump.ssh.host,
                      ...(jump.ssh.port !== undefined ? { port: jump.ssh.port } : {}),
                      ...(jump.ssh.user !== undefined ? { user: jump.ssh.user } : {}),
                      privateKey: hostKey(jump, args),
                      ...(jump.ssh.hostKey !== undefined ? { hostKey: jump.ssh.hostKey } : {}),
                      ...(jump.ssh.dialErrorLimit !== undefined ? { dialErrorLimit: jump.ssh.dialErrorLimit } : {}),
                      ...(jump.ssh.perDialTimeout !== undefined ? { perDialTimeout: jump.ssh.perDialTimeout } : {}),
                  },
              }
            : {}),
    };
}
