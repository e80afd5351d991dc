import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { SshHostArgs } from "../host/model";

/** Where the cluster state lives. */
export const Datastore = { Sqlite: "sqlite", Etcd: "etcd", External: "external" } as const;
export type Datastore = (typeof Datastore)[keyof typeof Datastore];

/** How fast a dead node's pods are evicted (see `failoverTimings`). */
export const FailoverProfile = { Default: "default", LossyLink: "lossy-link", Fast: "fast" } as const;
export type FailoverProfile = (typeof FailoverProfile)[keyof typeof FailoverProfile];

/** A node runs the control plane (`server`) or only workloads (`agent`). */
export const NodeRole = { Server: "server", Agent: "agent" } as const;
export type NodeRole = (typeof NodeRole)[keyof typeof NodeRole];

/** One machine of the cluster: how to reach it, and what it is in k3s. */
export interface K3sNodeArgs extends SshHostArgs {
    /** `server` (control plane, also runs workloads) or `agent` (worker). */
    readonly role: NodeRole;
    /** Where the machine is, e.g. `tokyo` or `home`; becomes the `topology.kubernetes.io/region` label. */
    readonly location: string;
    /**
     * The node's overlay address, used as k3s `node-ip`. Known at plan time for WireGuard; an Output of a
     * host step for Tailscale.
     */
    readonly overlayAddress: pulumi.Input<string>;
    /**
     * Public address of the machine. Servers get it as `tls-san`; an IP address also becomes
     * `node-external-ip`.
     * @default none (the node is only reachable over the overlay)
     */
    readonly publicAddress?: string;
    /**
     * MTU of the node's overlay interface. flannel sets its VXLAN MTU (this − 50) only when k3s starts, so it is
     * stated in config.yaml: a change then changes the file, and the install step restarts k3s on this node.
     * @default not stated (e.g. Tailscale, whose interface MTU HybridInfra does not set)
     */
    readonly overlayMtu?: number;
    /**
     * Extra node labels.
     * @default none
     */
    readonly labels?: Record<string, string>;
    /**
     * Node taints, `key=value:Effect` or `key:Effect` (Effect is NoSchedule, PreferNoSchedule or NoExecute).
     * @default none
     */
    readonly taints?: string[];
}

/** Air-gapped install: files on the machine running Pulumi, uploaded to every node. */
export interface K3sAirgapArgs {
    /** Local path of the k3s binary matching the nodes' architecture; uploaded to /usr/local/bin/k3s. */
    readonly binaryPath: string;
    /** Local path of the k3s airgap images tarball; uploaded to /var/lib/rancher/k3s/agent/images/. */
    readonly imagesPath: string;
    /**
     * Local path of the k3s install script (get.k3s.io) to upload as well, for hosts with no internet at all.
     * @default the installer is downloaded from the install source (only the binary and images are uploaded)
     */
    readonly installScriptPath?: string;
}

/** Where k3s comes from. */
export interface K3sInstallArgs {
    /**
     * Exact k3s release, e.g. `v1.36.1+k3s1`. Changing it rolls the upgrade: servers one at a time, then agents
     * in batches (`agentsPerBatch`), each node drained before and checked Ready at this version after.
     * @default none (the channel decides, and an installed k3s is left as it is)
     */
    readonly version?: string;
    /**
     * Release channel used when no version is set.
     * @default "stable"
     */
    readonly channel?: string;
    /**
     * Base URL of a k3s mirror laid out like `https://rancher-mirror.rancher.cn` (installer at
     * `<mirror>/k3s/k3s-install.sh`, run with `INSTALL_K3S_MIRROR=cn` and `INSTALL_K3S_MIRROR_URL=<host>`).
     * @default the official installer from https://get.k3s.io and binaries from GitHub
     */
    readonly mirrorUrl?: string;
    /**
     * Upload the binary and images instead of downloading them (`INSTALL_K3S_SKIP_DOWNLOAD=true`).
     * @default downloads on the host
     */
    readonly airgap?: K3sAirgapArgs;
}

/**
 * Off-site copy of the datastore backups to an S3-compatible bucket (AWS S3, MinIO, Backblaze B2, Cloudflare
 * R2, Wasabi …). With etcd, k3s itself uploads each snapshot (`etcd-s3-*`); with sqlite, the backup script
 * uploads each copy with curl's AWS Signature V4.
 */
export interface K3sBackupS3Args {
    /**
     * The S3 endpoint, `host` or `host:port`, without scheme (k3s's `etcd-s3-endpoint` form).
     * @default "s3.amazonaws.com"
     */
    readonly endpoint?: string;
    /** The bucket (it must exist: neither k3s nor HybridInfra creates it). */
    readonly bucket: string;
    /**
     * The bucket's region (used in the request signature).
     * @default "us-east-1"
     */
    readonly region?: string;
    /**
     * Folder (key prefix) inside the bucket, without leading or trailing `/`.
     * @default none (the bucket's top level)
     */
    readonly folder?: string;
    /**
     * Access key ID. Not a secret by itself; the secret half is `secretKey`.
     * @default none: k3s (etcd) falls back to the AWS default credentials of the host (environment, instance profile); the sqlite backup needs it
     */
    readonly accessKey?: string;
    /**
     * Secret access key (secret): required with `accessKey`. Reaches the servers on stdin, then a 0600 file
     * (config.yaml for etcd, the backup's own key file for sqlite); never argv or the log.
     * @default none
     */
    readonly secretKey?: pulumi.Input<string>;
    /**
     * Plain http instead of https (e.g. a MinIO on the LAN reached over the overlay).
     * @default false
     */
    readonly insecure?: boolean;
}

/**
 * Backups of the cluster state (see components/src/k3s/backup.ts and the README's "Backups"). Per datastore:
 * etcd: k3s's own scheduled snapshots (`etcd-snapshot-*`) on every server, with an optional S3 copy; sqlite: a
 * consistent copy of state.db (SQLite's online backup) on the first server by a systemd timer or OpenRC cron
 * job; external: refused (the database owns its backups).
 */
export interface K3sBackupArgs {
    /**
     * When to back up: a 5-field cron expression (minute hour day-of-month month day-of-week) of numbers,
     * `*`, ranges `a-b`, steps `/n` and lists `,`.
     * @default "0 *\/12 * * *" (every 12 hours: k3s's own etcd default)
     */
    readonly schedule?: string;
    /**
     * How many backups to keep (per server with etcd; also in S3).
     * @default 5 (k3s's own etcd default)
     */
    readonly retention?: number;
    /**
     * Directory of the backups on the server(s) (`etcd-snapshot-dir` with etcd).
     * @default "/var/lib/rancher/k3s/server/db/snapshots" (k3s's own; note that k3s-uninstall.sh removes it)
     */
    readonly dir?: string;
    /**
     * Off-site copy to an S3-compatible bucket.
     * @default none (backups stay on the servers' disks)
     */
    readonly s3?: K3sBackupS3Args;
}

/** Cluster-wide k3s settings, shared by `K3sClusterArgs` and the cluster spec. */
export interface K3sSettingsArgs {
    /**
     * Exact k3s release, e.g. `v1.36.1+k3s1`. Changing it upgrades servers one at a time, then agents. The stack
     * program refuses a version older than the one its last `pulumi up` installed (see `allowDowngrade`).
     * @default none (the channel decides)
     */
    readonly version?: string;
    /**
     * Accept a `version` older than the one the last `pulumi up` installed. Kubernetes does not support
     * downgrades; use it to undo a failed upgrade, with a datastore backup from before it at hand. Checked by
     * the stack program (`k3sChangeProblems`), which compares with its previous `k3sSettings` output.
     * @default false (a lower version is refused in `pulumi preview`, before anything changes)
     */
    readonly allowDowngrade?: boolean;
    /**
     * Release channel used when no version is set.
     * @default "stable"
     */
    readonly channel?: string;
    /**
     * k3s mirror base URL (see `K3sInstallArgs.mirrorUrl`).
     * @default the official sources
     */
    readonly mirrorUrl?: string;
    /**
     * Air-gapped install from local files.
     * @default downloads on the hosts
     */
    readonly airgap?: K3sAirgapArgs;
    /**
     * Datastore of the control plane. Creation-only: the stack program refuses a change on a running cluster,
     * except sqlite to etcd (k3s converts a single sqlite server when it restarts with `cluster-init`).
     * @default "sqlite" for one server, "etcd" for more
     */
    readonly datastore?: Datastore;
    /**
     * Accept embedded etcd servers in different locations (etcd across a WAN is not supported upstream:
     * expect leader elections on every latency spike).
     * @default false
     */
    readonly allowEtcdAcrossLocations?: boolean;
    /**
     * How fast pods leave a dead node.
     * @default "default"
     */
    readonly failoverProfile?: FailoverProfile;
    /**
     * Packaged components not to deploy, e.g. `traefik`, `servicelb`.
     * @default none
     */
    readonly disable?: string[];
    /**
     * Extra kubelet flags (`name=value`), on every node.
     * @default none
     */
    readonly kubeletArgs?: string[];
    /**
     * Extra kube-controller-manager flags (`name=value`), on servers.
     * @default none
     */
    readonly kubeControllerManagerArgs?: string[];
    /**
     * Extra kube-apiserver flags (`name=value`), on servers.
     * @default none
     */
    readonly kubeApiServerArgs?: string[];
    /**
     * Encrypt Secrets at rest (`secrets-encryption`). Creation-only: k3s does not support turning it on for a
     * cluster created without it, and a server restarted without it cannot read the Secrets it encrypted; the
     * stack program refuses either change on a running cluster.
     * @default false
     */
    readonly secretsEncryption?: boolean;
    /**
     * Address written into the kubeconfig's server URL (a DNS name or IP, no scheme or port). It must be an
     * address of a server (its SSH address, public address or overlay address) unless
     * `kubeconfigEndpointIsExternal` says it is your own (a load balancer or DNS name in front of the servers).
     * It is added to the servers' `tls-san`.
     * @default derived from the first server that has a publicAddress or that the machine running Pulumi reaches directly (no jump host): its publicAddress, else its SSH address; when every server is private and behind a jump host, the first server's overlay address
     */
    readonly kubeconfigEndpoint?: string;
    /**
     * `kubeconfigEndpoint` is an address of your own that no host has (a load balancer, a DNS name), so it is
     * not checked against the servers' addresses.
     * @default false
     */
    readonly kubeconfigEndpointIsExternal?: boolean;
    /**
     * Generation of the cluster token. Raising it (0 → 1 → 2 …) rotates the token, e.g. after a leak: a new
     * random token is made, `k3s token rotate` runs on the first server, the token file is rewritten on every
     * node, and k3s restarts on the servers one at a time, then on the agents. Lowering it is refused by the
     * stack program. Needs k3s v1.28 or later (`k3s token rotate`).
     * @default 0 (the token the cluster was created with)
     */
    readonly tokenRotation?: number;
    /**
     * How many agents of one location are upgraded or restarted at a time (a version or config.yaml change).
     * Servers go one at a time; then the agents in batches: a batch takes this many agents from each
     * location, and the next batch starts when every node of the previous one is Ready again. Each node
     * other than the first server is cordoned and drained first (PodDisruptionBudgets honoured), checked
     * Ready at the new version after, then uncordoned; a failure stops the roll there.
     * @default 1 (one agent per location at a time)
     */
    readonly agentsPerBatch?: number;
    /**
     * Backups of the cluster state: etcd snapshots (k3s's, on by default in k3s every 12 h, 5 kept) with their
     * schedule, retention and an S3 copy; for sqlite, a scheduled consistent copy of state.db; refused with an
     * external datastore (its database owns backups). See `K3sBackupArgs`.
     * @default none: etcd keeps k3s's defaults; sqlite is not backed up
     */
    readonly backup?: K3sBackupArgs;
    /**
     * Pod network. Creation-only: the stack program refuses a change on a running cluster.
     * @default "10.42.0.0/16"
     */
    readonly clusterCidr?: string;
    /**
     * Service network. Creation-only: the stack program refuses a change on a running cluster.
     * @default "10.43.0.0/16"
     */
    readonly serviceCidr?: string;
}

/** A whole k3s cluster on an overlay network. */
export interface K3sClusterArgs extends K3sSettingsArgs {
    /**
     * The nodes k3s already runs on, as the last `pulumi up` left them (the stack program passes its recorded
     * `clusterHosts`). Only these roll in batches (`agentsPerBatch`); agents not listed, new ones, join in
     * parallel right after the servers, so a first install does not wait agent by agent.
     * @default none: every agent joins in parallel after the servers (no batches)
     */
    readonly deployedNodes?: string[];
    /** The machines, in a stable order: the first server initialises the cluster. */
    readonly nodes: K3sNodeArgs[];
    /** The overlay interface used by flannel (`flannel-iface`), e.g. `wg0` or `tailscale0`. */
    readonly interfaceName: string;
    /**
     * Endpoint of an external datastore (`mysql://…`, `postgres://…`), required with datastore "external".
     * Treated as a secret.
     * @default none
     */
    readonly datastoreEndpoint?: pulumi.Input<string>;
}

export const DEFAULT_CHANNEL = "stable";
export const K3S_CONFIG_PATH = "/etc/rancher/k3s/config.yaml";
export const K3S_TOKEN_PATH = "/etc/rancher/k3s/hybridinfra-token";
export const K3S_KUBECONFIG_PATH = "/etc/rancher/k3s/k3s.yaml";
export const K3S_API_PORT = 6443;
/** Bytes flannel's VXLAN backend takes from the interface MTU (outer IPv4 + UDP + VXLAN + inner Ethernet). */
export const VXLAN_OVERHEAD = 50;
// The node label of a host's location: one constant, in kube/labels.ts.
export { REGION_LABEL } from "../kube/labels";

/** `v1.36.1+k3s1`, also release candidates such as `v1.32.0-rc1+k3s1`. */
export const K3S_VERSION_RE = /^v(\d+)\.(\d+)\.(\d+)(-rc\d+)?\+k3s(\d+)$/;

/** True for a literal IPv4 or IPv6 address. */
export function isIp(value: string): boolean {
    return net.isIP(value) !== 0;
}

/** `https://host:6443`, with brackets for IPv6. */
export function apiUrl(host: string): string {
    return `https://${net.isIPv6(host) ? `[${host}]` : host}:${K3S_API_PORT}`;
}
