import * as pulumi from "@pulumi/pulumi";
import { AppSpecArgs, TlsMode } from "../apps/model";
import { K3sSettingsArgs } from "../k3s/model";
import { WireGuardSettingsArgs } from "../wireguard/model";

/** What a host does in the cluster. A host may have several roles. */
export const HostRole = {
    /** WireGuard hub: public endpoint, forwards between spokes. */
    Hub: "hub",
    /** k3s server (control plane). */
    Server: "server",
    /** k3s agent (worker). */
    Agent: "agent",
    /** Public ingress node of a private cluster: forwards 80/443 over the overlay. */
    Ingress: "ingress",
} as const;
export type HostRole = (typeof HostRole)[keyof typeof HostRole];

export const OverlayKind = { WireGuard: "wireguard", Tailscale: "tailscale" } as const;
export type OverlayKind = (typeof OverlayKind)[keyof typeof OverlayKind];

export const IngressMode = {
    /** k3s's bundled Traefik on the cluster's public node(s). */
    Traefik: "traefik",
    /** A Cloudflare Tunnel: no inbound port, no public IP needed. */
    CloudflareTunnel: "cloudflare-tunnel",
    /** A public cloud node forwards 80/443 over the overlay to a private cluster's Traefik. */
    CloudForward: "cloud-forward",
} as const;
export type IngressMode = (typeof IngressMode)[keyof typeof IngressMode];

export interface ClusterSshArgs {
    /** SSH address (IP or DNS name). */
    readonly host: string;
    /** @default 22 */
    readonly port?: number;
    /** @default "root" */
    readonly user?: string;
    /**
     * This host's private key. Secret.
     * @default the cluster's sshPrivateKey
     */
    readonly privateKey?: pulumi.Input<string>;
    /** Pinned SSH host key (`ssh-ed25519 AAAA…`). @default not pinned */
    readonly hostKey?: string;
    /**
     * Name of another host used as SSH jump host: one hop, reached directly by the machine that runs
     * `pulumi up`. A private address may only be reached through a jump host in its own location (see
     * "How `pulumi up` reaches your hosts" in the README).
     * @default none
     */
    readonly jumpHost?: string;
    /**
     * Failed SSH dials tolerated before a step fails (`-1`: no limit); raise it for sleepy home machines.
     * @default 10 (pulumi-command's default)
     */
    readonly dialErrorLimit?: number;
    /**
     * Seconds one SSH dial attempt may take (`0`: no limit).
     * @default 15 (pulumi-command's default)
     */
    readonly perDialTimeout?: number;
}

export interface ClusterHostArgs {
    /** Unique lowercase name. */
    readonly name: string;
    readonly ssh: ClusterSshArgs;
    /** Site (`home`, `tokyo`): the node's `topology.kubernetes.io/region`, and the unit of spreading. */
    readonly location: string;
    /** Public IP or DNS name reachable from the internet. @default none (behind NAT) */
    readonly publicEndpoint?: string;
    readonly roles: HostRole[];
    /** LAN CIDRs this host routes for the overlay (subnet router). @default none */
    readonly lan?: string[];
    /** Extra node labels. @default none */
    readonly labels?: Record<string, string>;
    /** Node taints, `key=value:Effect`. @default none */
    readonly taints?: string[];
    /** Pinned overlay address (WireGuard). @default planned from the overlay CIDR */
    readonly overlayAddress?: string;
    /** Interface MTU (WireGuard). @default overlay.mtu */
    readonly mtu?: number;
    /** Gateway of its location (WireGuard `locations` topology). @default chosen */
    readonly gateway?: boolean;
    /**
     * Take this machine out of the cluster in a safe order: the run drains it (cordon, evictions honouring
     * PodDisruptionBudgets) and deletes its Node from the first server while the overlay still reaches it,
     * then the other hosts drop its WireGuard peer, then its k3s and overlay are uninstalled. Delete the entry
     * in a later run. Not for the first server, a hub, or another host's jump host.
     * @default false
     */
    readonly remove?: boolean;
}

/**
 * The overlay: WireGuard's settings (see `WireGuardMeshArgs`) or Tailscale's. The pod and service CIDRs come
 * from `k3s.clusterCidr` / `k3s.serviceCidr`.
 */
export interface ClusterOverlayArgs extends WireGuardSettingsArgs {
    /** @default wireguard */
    readonly kind?: OverlayKind;
    /** Headscale URL (Tailscale overlay). @default Tailscale's own */
    readonly loginServer?: string;
    /** Accept subnet routes others advertise (Tailscale overlay). @default true */
    readonly acceptRoutes?: boolean;
}

/** k3s settings (see `K3sClusterArgs`); nodes come from the hosts, the interface from the overlay. */
// A named interface, not a type alias: the schema analyzer names object types after interfaces.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ClusterK3sArgs extends K3sSettingsArgs {}

export interface ClusterCloudflareArgs {
    readonly accountId: string;
    readonly zoneId: string;
    /** @default the cluster name */
    readonly tunnelName?: string;
}

export interface ClusterIngressArgs {
    /** @default traefik */
    readonly mode?: IngressMode;
    /**
     * Where the apps' certificates come from (see `TlsMode`). `cert-manager` needs `acmeEmail`;
     * `cloudflare-origin-ca` only works with `mode: cloudflare-tunnel` (only Cloudflare's proxy trusts it).
     * @default private-ca (none for a tunnel)
     */
    readonly tls?: TlsMode;
    /** The TLS Secret's name: required for tls existing-secret. @default `<app>-tls` */
    readonly tlsSecretName?: string;
    /** The public host that forwards 80/443 (cloud-forward). @default the host with the ingress role */
    readonly forwardHost?: string;
    readonly cloudflare?: ClusterCloudflareArgs;
    /** @default false */
    readonly traefikDashboard?: boolean;
    /**
     * Install cert-manager (jetstack's chart, `CERT_MANAGER_VERSION`). With `tls: cert-manager`, `false` means
     * a cert-manager is already in the cluster: only the ClusterIssuer is made.
     * @default true with tls cert-manager, else false
     */
    readonly certManager?: boolean;
    /**
     * Email of the ACME account of the `letsencrypt` ClusterIssuer (HTTP-01 through Traefik). Required with
     * tls cert-manager; an error when no cert-manager is used.
     */
    readonly acmeEmail?: string;
    /** ACME directory URL (e.g. Let's Encrypt staging while testing). @default Let's Encrypt production */
    readonly acmeServer?: string;
}

/** An app (see `ExposedAppArgs`); TLS and exposure follow the cluster's ingress. */
export interface ClusterAppArgs extends AppSpecArgs {
    /** The app's name (Kubernetes object names and labels). */
    readonly name: string;
}

export interface HybridClusterArgs {
    readonly hosts: ClusterHostArgs[];
    /** The SSH private key used for every host without its own. Secret. */
    readonly sshPrivateKey: pulumi.Input<string>;
    readonly overlay?: ClusterOverlayArgs;
    readonly k3s?: ClusterK3sArgs;
    readonly ingress?: ClusterIngressArgs;
    /**
     * The hosts the cluster already runs on, as the last `pulumi up` left them (the stack program passes its
     * recorded `clusterHosts`): a k3s version or config change rolls through their nodes in batches
     * (`k3s.agentsPerBatch`); hosts not listed join in parallel after the servers.
     * @default none: every agent joins in parallel (no batches)
     */
    readonly deployedHosts?: string[];
    readonly apps?: ClusterAppArgs[];
    /** Tailscale/Headscale auth key (Tailscale overlay). Secret. */
    readonly tailscaleAuthKey?: pulumi.Input<string>;
    /** External datastore URL (k3s datastore external). Secret. */
    readonly datastoreEndpoint?: pulumi.Input<string>;
    /** Cloudflare API token (cloudflare-tunnel ingress). Secret. */
    readonly cloudflareApiToken?: pulumi.Input<string>;
    /**
     * Re-converge generation: raise it by one to run every host step again on the next `pulumi up` (each as an
     * in-place update, never a replace), when a host drifted while the config did not change. The steps are
     * idempotent and print what they repaired (`changed <file>`, `brought up wg0`, `added route ...`).
     * @default none (steps run only when their config changes)
     */
    readonly reconverge?: number;
}
