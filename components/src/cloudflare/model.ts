/** One public hostname served through the tunnel. */
export interface TunnelRouteArgs {
    /** Public hostname, e.g. `blog.example.com` (must be in the zone). */
    readonly hostname: string;
    /** Where cloudflared sends the traffic, e.g. `http://traefik.kube-system.svc.cluster.local:80`. */
    readonly service: string;
    /**
     * Only requests whose path matches this regular expression use this route.
     * @default every path
     */
    readonly path?: string;
    /**
     * TLS server name cloudflared sends to an https origin.
     * @default the origin's host name
     */
    readonly originServerName?: string;
    /**
     * Skip verifying the origin's certificate (only for an in-cluster hop to a private-CA certificate).
     * @default false
     */
    readonly noTlsVerify?: boolean;
}

export interface CloudflareTunnelArgs {
    /** Cloudflare account ID (32 hex digits). */
    readonly accountId: string;
    /** ID of the zone (32 hex digits) the hostnames' DNS records go into. */
    readonly zoneId: string;
    /**
     * The tunnel's name in Cloudflare.
     * @default the resource name
     */
    readonly tunnelName?: string;
    /** The public hostnames and where they go. */
    readonly ingress: TunnelRouteArgs[];
    /**
     * cloudflared pods, spread across locations.
     * @default 2
     */
    readonly replicas?: number;
    /**
     * Namespace for cloudflared (created by this component).
     * @default "cloudflared"
     */
    readonly namespace?: string;
    /**
     * The cloudflared image.
     * @default CLOUDFLARED_IMAGE (a pinned release)
     */
    readonly image?: string;
}
