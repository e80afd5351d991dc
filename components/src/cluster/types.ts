import * as pulumi from "@pulumi/pulumi";
import { AppPortArgs, AppResourcesArgs, HttpProbeArgs, PlacementArgs, TlsMode } from "../apps/model";
import { Datastore, FailoverProfile } from "../k3s/model";
import { Topology } from "../wireguard/model";

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
    /** Name of another host used as SSH jump host. @default none */
    readonly jumpHost?: string;
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
}

export interface ClusterOverlayArgs {
    /** @default wireguard */
    readonly kind?: OverlayKind;
    /** WireGuard topology. @default hub */
    readonly topology?: Topology;
    /** @default "10.100.0.0/24" */
    readonly cidr?: string;
    /** @default 51820 */
    readonly listenPort?: number;
    /** @default "wg0" */
    readonly interfaceName?: string;
    /** @default 25 */
    readonly keepalive?: number;
    /** @default false */
    readonly presharedKeys?: boolean;
    /** @default 1420 */
    readonly mtu?: number;
    /** Headscale URL (Tailscale overlay). @default Tailscale's own */
    readonly loginServer?: string;
    /** @default true */
    readonly acceptRoutes?: boolean;
}

export interface ClusterAirgapArgs {
    readonly binaryPath: string;
    readonly imagesPath: string;
}

export interface ClusterK3sArgs {
    /** e.g. `v1.31.4+k3s1`. @default the channel's current version */
    readonly version?: string;
    /** @default "stable" */
    readonly channel?: string;
    readonly mirrorUrl?: string;
    readonly airgap?: ClusterAirgapArgs;
    /** @default sqlite for one server, etcd for more */
    readonly datastore?: Datastore;
    /** @default false */
    readonly allowEtcdAcrossLocations?: boolean;
    /** @default default */
    readonly failoverProfile?: FailoverProfile;
    readonly disable?: string[];
    readonly kubeletArgs?: string[];
    readonly kubeControllerManagerArgs?: string[];
    readonly kubeApiServerArgs?: string[];
    /** @default false */
    readonly secretsEncryption?: boolean;
    /** Address written into the kubeconfig. @default the first server's public endpoint, else its overlay address */
    readonly kubeconfigEndpoint?: string;
    /** @default "10.42.0.0/16" */
    readonly clusterCidr?: string;
    /** @default "10.43.0.0/16" */
    readonly serviceCidr?: string;
}

export interface ClusterCloudflareArgs {
    readonly accountId: string;
    readonly zoneId: string;
    /** @default the cluster name */
    readonly tunnelName?: string;
}

export interface ClusterIngressArgs {
    /** @default traefik */
    readonly mode?: IngressMode;
    /** @default private-ca (none for a tunnel) */
    readonly tls?: TlsMode;
    /** For tls existing-secret. */
    readonly tlsSecretName?: string;
    /** The public host that forwards 80/443 (cloud-forward). @default the host with the ingress role */
    readonly forwardHost?: string;
    readonly cloudflare?: ClusterCloudflareArgs;
    /** @default false */
    readonly traefikDashboard?: boolean;
    /** @default false */
    readonly certManager?: boolean;
}

export interface ClusterAppArgs {
    readonly name: string;
    readonly image: string;
    /** @default "default" */
    readonly namespace?: string;
    /** @default 1 */
    readonly replicas?: number;
    readonly ports: AppPortArgs[];
    readonly hostnames: string[];
    /** @default ["/"] */
    readonly paths?: string[];
    readonly env?: Record<string, string>;
    /** Env vars with secret values. */
    readonly secretEnv?: Record<string, pulumi.Input<string>>;
    readonly resources?: AppResourcesArgs;
    readonly livenessProbe?: HttpProbeArgs;
    readonly readinessProbe?: HttpProbeArgs;
    readonly placement?: PlacementArgs;
    /** @default true */
    readonly spreadAcrossLocations?: boolean;
}

export interface HybridClusterArgs {
    readonly hosts: ClusterHostArgs[];
    /** The SSH private key used for every host without its own. Secret. */
    readonly sshPrivateKey: pulumi.Input<string>;
    readonly overlay?: ClusterOverlayArgs;
    readonly k3s?: ClusterK3sArgs;
    readonly ingress?: ClusterIngressArgs;
    readonly apps?: ClusterAppArgs[];
    /** Tailscale/Headscale auth key (Tailscale overlay). Secret. */
    readonly tailscaleAuthKey?: pulumi.Input<string>;
    /** External datastore URL (k3s datastore external). Secret. */
    readonly datastoreEndpoint?: pulumi.Input<string>;
    /** Cloudflare API token (cloudflare-tunnel ingress). Secret. */
    readonly cloudflareApiToken?: pulumi.Input<string>;
}
