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

/**
 * How the machine that runs `pulumi up` reaches a host over SSH (every host step runs through it). Checked once
 * per run, before anything is registered (`validateSshHosts`); a problem names `hosts[i].ssh.<key>`.
 */
export interface ClusterSshArgs {
    /**
     * SSH address: an IPv4 or IPv6 address (`2001:db8::1`, no brackets) or a DNS name; no user, no port
     * (`sshAddressProblem` is the rule). A private address needs a jump host in its own location, or must be
     * reachable from the machine running `pulumi up` (see "How `pulumi up` reaches your hosts" in the README).
     * The same name all the way down: `SshHostArgs.address`.
     */
    readonly address: string;
    /**
     * TCP port sshd listens on (or the port the router forwards to it), 1–65535.
     * @default 22
     */
    readonly port?: number;
    /**
     * Login user; it must be root or have passwordless sudo (the steps install packages and write /etc).
     * @default "root"
     */
    readonly user?: string;
    /**
     * This host's private key. Secret.
     * @default the cluster's sshPrivateKey
     */
    readonly privateKey?: pulumi.Input<string>;
    /**
     * The host's SSH public key, one line as in `known_hosts` without the name (`ssh-ed25519 AAAA…`): the
     * connection is refused when the host presents another.
     * @default not pinned (any host key is accepted, as pulumi-command does)
     */
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

/** One machine of the cluster. */
export interface ClusterHostArgs {
    /**
     * Unique name, a lowercase DNS label (`cloud-tokyo`, `home-pc`; at most 63 characters): the Kubernetes node
     * name, the WireGuard peer name, and part of every resource name of its steps.
     */
    readonly name: string;
    /** How `pulumi up` reaches it. */
    readonly ssh: ClusterSshArgs;
    /**
     * Site, a lowercase DNS label (`home`, `tokyo`): the node's `topology.kubernetes.io/region` label, the unit
     * apps spread over (`spreadAcrossLocations`), and the WireGuard `locations` topology's group.
     */
    readonly location: string;
    /**
     * Public IPv4/IPv6 address or DNS name the internet reaches it at, with `:port` when the router forwards
     * another UDP port to WireGuard (`home.example.org:51821`). Other hosts dial it; k3s gets the address only.
     * @default none: the host is behind NAT, it dials out and keeps the NAT mapping open (`overlay.keepalive`)
     */
    readonly publicEndpoint?: string;
    /**
     * What it does, one or more of `hub`, `server`, `agent`, `ingress` (`HostRole`). At least one host must be a
     * `server`; an `ingress` host needs a `publicEndpoint`; `hub` exists only with the WireGuard overlay.
     */
    readonly roles: HostRole[];
    /**
     * IPv4 LANs this host routes into the overlay (subnet router), e.g. `["192.168.50.0/24"]`: forwarded and
     * masqueraded. Must not overlap the overlay, pod or service CIDR, nor another host's LAN of another location.
     * @default none
     */
    readonly lan?: string[];
    /**
     * Extra Kubernetes node labels. `topology.kubernetes.io/region` is set from `location` and may not be given.
     * @default none
     */
    readonly labels?: Record<string, string>;
    /** Node taints, `key=value:Effect` with Effect `NoSchedule`, `PreferNoSchedule` or `NoExecute`. @default none */
    readonly taints?: string[];
    /**
     * Its WireGuard address, pinned: an IPv4 host address inside `overlay.cidr`, unique.
     * @default planned from the overlay CIDR by name (stable when hosts are added or removed; `planOverlayAddresses`)
     */
    readonly overlayAddress?: string;
    /**
     * Its WireGuard interface MTU in bytes, 1280–8920 (IPv6's minimum link MTU; 9000-byte jumbo frames minus 80
     * bytes of WireGuard overhead). Lower it behind PPPoE (1412) or DS-Lite (1400). k3s restarts when it changes,
     * as flannel reads it at start (its VXLAN MTU is this minus 50).
     * @default `overlay.mtu`, else 1420 (wg-quick's default for a 1500-byte link)
     */
    readonly mtu?: number;
    /**
     * The gateway of its location in the WireGuard `locations` topology: the one host that peers with the other
     * locations and forwards for its own. At most one per location.
     * @default chosen (`locationGateways`): its hub, else its first host with a publicEndpoint, else its first host
     */
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

/** The Cloudflare account and zone of a `cloudflare-tunnel` ingress (the API token is the secret `cloudflareApiToken`). */
export interface ClusterCloudflareArgs {
    /** The 32-character hex account ID (Cloudflare dashboard, the zone's Overview page). */
    readonly accountId: string;
    /** The 32-character hex zone ID of the apps' domain; each app hostname gets a proxied CNAME in it. */
    readonly zoneId: string;
    /** The tunnel's name in the Cloudflare account. @default the cluster name */
    readonly tunnelName?: string;
}

/** How the internet reaches the apps, and where their certificates come from. */
export interface ClusterIngressArgs {
    /**
     * `traefik` (k3s's bundled Traefik on the k3s nodes with a publicEndpoint), `cloudflare-tunnel` (no inbound
     * port: needs `cloudflare` and the secret `cloudflareApiToken`) or `cloud-forward` (a public host forwards
     * TCP 80/443 over the overlay to a private cluster's Traefik: see `forwardHost`).
     * @default traefik
     */
    readonly mode?: IngressMode;
    /**
     * Where the apps' certificates come from (see `TlsMode`). `cert-manager` needs `acmeEmail`;
     * `cloudflare-origin-ca` only works with `mode: cloudflare-tunnel` (only Cloudflare's proxy trusts it).
     * @default private-ca (none for a tunnel)
     */
    readonly tls?: TlsMode;
    /** The name of the Kubernetes TLS Secret each app's Ingress serves; required with tls existing-secret. @default `<app>-tls` */
    readonly tlsSecretName?: string;
    /** The public host that forwards 80/443 (cloud-forward). @default the host with the ingress role */
    readonly forwardHost?: string;
    readonly cloudflare?: ClusterCloudflareArgs;
    /**
     * Expose Traefik's dashboard behind basic auth (its password is an output of the add-on).
     * @default false
     */
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

/**
 * A whole cluster, as the stack config `hybrid-infra:cluster` describes it (plus its secrets). Validated as a
 * whole before anything is registered (`planCluster`): every problem is reported at once, each as
 * `<path>: <problem>, got <value>. Fix: <fix>` with its path in these args (`hosts[2].ssh.port`).
 */
export interface HybridClusterArgs {
    /** The machines, at least one with the role `server`. Names unique. */
    readonly hosts: ClusterHostArgs[];
    /** The OpenSSH or PEM private key used for every host without its own (`ssh.privateKey`). Secret. */
    readonly sshPrivateKey: pulumi.Input<string>;
    /** The overlay the cluster runs on. @default WireGuard, hub topology, 10.100.0.0/24 */
    readonly overlay?: ClusterOverlayArgs;
    /** k3s's settings. @default the stable channel's k3s; sqlite with one server, embedded etcd with more */
    readonly k3s?: ClusterK3sArgs;
    /** How apps are reached from the internet. @default traefik with a private CA */
    readonly ingress?: ClusterIngressArgs;
    /**
     * The hosts the cluster already runs on, as the last `pulumi up` left them (the stack program passes its
     * recorded `clusterHosts`): a k3s version or config change rolls through their nodes in batches
     * (`k3s.agentsPerBatch`); hosts not listed join in parallel after the servers.
     * @default none: every agent joins in parallel (no batches)
     */
    readonly deployedHosts?: string[];
    /** The apps to run and expose. @default none */
    readonly apps?: ClusterAppArgs[];
    /**
     * Reusable Tailscale or Headscale auth key; required with `overlay.kind: tailscale`, an error without it.
     * Secret.
     */
    readonly tailscaleAuthKey?: pulumi.Input<string>;
    /**
     * The external datastore in k3s's form (`mysql://user:pass@tcp(host:3306)/k3s`, `postgres://…`, or a comma
     * list of `https://etcd:2379` URLs; https://docs.k3s.io/datastore); required with `k3s.datastore: external`.
     * Secret: its value is never shown, not even in errors.
     */
    readonly datastoreEndpoint?: pulumi.Input<string>;
    /** Cloudflare API token with Tunnel:Edit and DNS:Edit; required with the `cloudflare-tunnel` ingress. Secret. */
    readonly cloudflareApiToken?: pulumi.Input<string>;
    /**
     * Re-converge generation: raise it by one to run every host step again on the next `pulumi up` (each as an
     * in-place update, never a replace), when a host drifted while the config did not change. The steps are
     * idempotent and print what they repaired (`changed <file>`, `brought up wg0`, `added route ...`).
     * @default none (steps run only when their config changes)
     */
    readonly reconverge?: number;
}
