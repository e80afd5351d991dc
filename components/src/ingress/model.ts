import type { SshHostArgs } from "../host/model";

/** A public cloud node that forwards TCP ports over the overlay to the cluster's ingress. */
export interface PublicIngressForwardArgs extends SshHostArgs {
    /**
     * Overlay addresses of cluster nodes where Traefik's service load balancer listens on the forwarded
     * ports. Connections are spread over them (conntrack keeps each connection on one target).
     */
    readonly targets: string[];
    /**
     * TCP ports to forward.
     * @default [80, 443]
     */
    readonly ports?: number[];
    /** The overlay interface on this node, e.g. `wg0` or `tailscale0`. */
    readonly overlayInterface: string;
    /**
     * The interface public traffic arrives on.
     * @default the interface of the host's IPv4 default route, detected on the host
     */
    readonly publicInterface?: string;
}
