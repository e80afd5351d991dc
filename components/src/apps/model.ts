import * as pulumi from "@pulumi/pulumi";

/** How an app's Ingress gets its certificate. */
export const TlsMode = {
    /** Plain HTTP at the origin (e.g. behind a Cloudflare Tunnel, which terminates TLS at the edge). */
    None: "none",
    /** A leaf certificate for the app's hostnames, signed by a private CA made with `@pulumi/tls`. */
    PrivateCa: "private-ca",
    /** A `kubernetes.io/tls` Secret that already exists in the app's namespace. */
    ExistingSecret: "existing-secret",
    /** A Cloudflare Origin CA certificate (trusted by Cloudflare's proxy, not by browsers). */
    CloudflareOriginCa: "cloudflare-origin-ca",
    /**
     * A publicly trusted certificate from cert-manager: a `Certificate` (cert-manager.io/v1) for the app's
     * hostnames, issued by a ClusterIssuer (by default the `letsencrypt` ACME issuer of the `CertManager`
     * add-on, HTTP-01 through Traefik). cert-manager writes the TLS Secret and renews it in the cluster
     * (by default when a third of its lifetime is left), without `pulumi up`.
     */
    CertManager: "cert-manager",
} as const;
export type TlsMode = (typeof TlsMode)[keyof typeof TlsMode];

/** How an app is reached from the internet. */
export const Exposure = {
    /** Through Traefik's service load balancer on the cluster's public node(s) (or a `PublicIngressForward`). */
    Ingress: "ingress",
    /** Through a Cloudflare Tunnel: no public IP is needed. */
    Tunnel: "tunnel",
} as const;
export type Exposure = (typeof Exposure)[keyof typeof Exposure];

/** One port of the app's container. */
export interface AppPortArgs {
    /**
     * Port name (a DNS label of at most 15 characters).
     * @default "http" for the first port, `port-<containerPort>` for others
     */
    readonly name?: string;
    /** The port the container listens on. */
    readonly containerPort: number;
    /**
     * The port the Service exposes.
     * @default the container port
     */
    readonly servicePort?: number;
}

/** CPU and memory quantities, e.g. `{ cpu: "100m", memory: "128Mi" }`. */
export interface ResourceQuantityArgs {
    /** @default not set */
    readonly cpu?: string;
    /** @default not set */
    readonly memory?: string;
}

export interface AppResourcesArgs {
    /** @default no requests */
    readonly requests?: ResourceQuantityArgs;
    /** @default no limits */
    readonly limits?: ResourceQuantityArgs;
}

/** An HTTP GET probe. */
export interface HttpProbeArgs {
    /** Path to GET, e.g. `/healthz`. */
    readonly path: string;
    /**
     * Container port to probe.
     * @default the first port's container port
     */
    readonly port?: number;
    /** @default 0 */
    readonly initialDelaySeconds?: number;
    /** @default 10 */
    readonly periodSeconds?: number;
    /** @default 1 */
    readonly timeoutSeconds?: number;
    /** @default 3 */
    readonly failureThreshold?: number;
}

/** Where the app's pods may run. */
export interface PlacementArgs {
    /**
     * Locations (the hosts' `location`, i.e. the `topology.kubernetes.io/region` node label) the pods may run in.
     * @default any location
     */
    readonly locations?: string[];
    /**
     * CPU architecture (`kubernetes.io/arch`), e.g. `amd64` or `arm64`.
     * @default any architecture
     */
    readonly arch?: string;
    /**
     * Node labels the pods' nodes must carry.
     * @default none
     */
    readonly labels?: Record<string, string>;
}

export interface AppTlsArgs {
    /** Where the certificate comes from. */
    readonly mode: TlsMode;
    /**
     * Name of the `kubernetes.io/tls` Secret: the existing one (mode `existing-secret`, required) or the one to create.
     * @default `<appName>-tls`
     */
    readonly secretName?: string;
    /**
     * PEM of the private CA certificate that signs the leaf (mode `private-ca`), shared by the cluster's apps
     * (see `PrivateCa`).
     * @default a CA made for this app alone
     */
    readonly caCertPem?: pulumi.Input<string>;
    /**
     * PEM of that CA's private key (secret); required together with `caCertPem`.
     * @default a CA made for this app alone
     */
    readonly caPrivateKeyPem?: pulumi.Input<string>;
    /**
     * The ClusterIssuer that signs the app's `Certificate` (mode `cert-manager`). Give a `CertManager`'s
     * `clusterIssuerName` output, and the Certificate waits for that add-on (its CRDs and issuer).
     * @default "letsencrypt" (the ACME issuer `CertManager` creates when given `acmeEmail`)
     */
    readonly issuerName?: pulumi.Input<string>;
}

/** What an app is, shared by `ExposedAppArgs` and the cluster spec. */
export interface AppSpecArgs {
    /**
     * Namespace the app's objects go into.
     * @default "default"
     */
    readonly namespace?: string;
    /** Container image, pinned by tag or digest. */
    readonly image: string;
    /**
     * Number of pods.
     * @default 1
     */
    readonly replicas?: number;
    /** Container ports; the first one serves the hostnames. */
    readonly ports: AppPortArgs[];
    /** Public hostnames routed to the app. */
    readonly hostnames: string[];
    /**
     * URL path prefixes routed to the app on every hostname.
     * @default ["/"]
     */
    readonly paths?: string[];
    /**
     * Plain environment variables.
     * @default none
     */
    readonly env?: Record<string, string>;
    /**
     * Secret environment variables: stored in a Kubernetes Secret and read with `secretKeyRef`.
     * @default none
     */
    readonly secretEnv?: Record<string, pulumi.Input<string>>;
    /** @default no requests or limits */
    readonly resources?: AppResourcesArgs;
    /** @default no liveness probe */
    readonly livenessProbe?: HttpProbeArgs;
    /** @default no readiness probe */
    readonly readinessProbe?: HttpProbeArgs;
    /** @default anywhere */
    readonly placement?: PlacementArgs;
    /**
     * Spread replicas across locations (`topology.kubernetes.io/region`) so that one dark site does not take
     * the app down.
     * @default true
     */
    readonly spreadAcrossLocations?: boolean;
}

/** An app published through k3s's bundled Traefik. */
export interface ExposedAppArgs extends AppSpecArgs {
    /**
     * Name of the Deployment, Service and Ingress (a DNS label).
     * @default the resource name
     */
    readonly appName?: string;
    /**
     * Create the namespace as part of this app (only one app per namespace may do so).
     * @default false
     */
    readonly createNamespace?: boolean;
    /** @default no TLS at the origin (`none`) */
    readonly tls?: AppTlsArgs;
    /** @default "ingress" */
    readonly exposure?: Exposure;
    /**
     * The locations the cluster's hosts have, used to reject a placement no node can satisfy.
     * @default not checked
     */
    readonly knownLocations?: string[];
}
