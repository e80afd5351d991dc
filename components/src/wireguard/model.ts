import { SshHostArgs } from "../host/model";

/** How the nodes of the overlay peer with each other. */
export const Topology = {
    /** Every node peers with the hub(s); spokes route the whole overlay through the first hub. */
    Hub: "hub",
    /** Every pair with at least one public end peers directly; pairs behind NAT on both ends go through a hub. */
    Mesh: "mesh",
    /** Full mesh inside each location, one gateway per location links the locations (as Kilo does). */
    Locations: "locations",
} as const;
export type Topology = (typeof Topology)[keyof typeof Topology];

/** One machine of the overlay: how to reach it over SSH plus its place in the network. */
export interface WireGuardHostArgs extends SshHostArgs {
    /**
     * Where the machine is, e.g. `tokyo` or `home`. Hosts in one location share a network: they do not
     * route each other's LANs through the overlay, and in the `locations` topology they reach each other
     * at their SSH address.
     */
    readonly location: string;
    /**
     * Public IP address or DNS name at which other nodes reach this one from the internet, optionally with
     * `:port` when a router forwards another port (e.g. `203.0.113.10` or `home.example.org:51821`). `wg`
     * resolves a name once, so every host with a peer at a name also gets a re-resolve job (a 30 s systemd
     * timer, a 15-minute periodic job on OpenRC) that resolves it again when the last handshake is older than
     * 135 s, as wireguard-tools' `reresolve-dns.sh` does: a home IP that changes is followed.
     * @default none: the host is behind NAT; it is never given as an `Endpoint` and keeps its NAT mapping open with `PersistentKeepalive`
     */
    readonly publicEndpoint?: string;
    /**
     * The host is a hub: spokes route through it (`hub` topology) or it relays between hosts that are both
     * behind NAT (`mesh`). A hub needs a public `endpoint`; it forwards IP traffic.
     * @default false
     */
    readonly hub?: boolean;
    /**
     * LAN CIDRs this host advertises as a subnet router, e.g. `["192.168.50.0/24"]`. Hosts in other
     * locations route them to this host, which forwards (and masquerades) traffic into the LAN.
     * @default none
     */
    readonly lan?: string[];
    /**
     * Pinned overlay address (inside the overlay CIDR). Named `overlayAddress` because `address` is the SSH
     * address.
     * @default derived from the host name, stable when other hosts are added
     */
    readonly overlayAddress?: string;
    /**
     * MTU of this host's WireGuard interface. Lower it behind PPPoE or DS-Lite home links (e.g. 1412 or 1400).
     * @default the overlay's `mtu` (1420)
     */
    readonly mtu?: number;
    /**
     * In the `locations` topology: this host is its location's gateway. At most one per location.
     * @default the first host of the location with a public endpoint, else its first host
     */
    readonly gateway?: boolean;
}

/**
 * An operator peer: a machine outside the cluster (the one that runs Pulumi, a laptop) that joins the overlay
 * as a WireGuard client, the way wg-easy or Tailscale add a client. It gets an overlay address (planned after
 * every host, so it never moves one), a key pair and a wg-quick config, exported as a secret output
 * (`operatorConfigs`). It is taken to be behind NAT: it dials the hub(s) (`hub`), every host with a public
 * endpoint (`mesh`; hosts behind NAT through the relay) or every location's gateway (`locations`), with
 * `PersistentKeepalive`; no host dials it.
 */
export interface WireGuardOperatorArgs {
    /** Unique lowercase name (a DNS label), distinct from every host name: its key in `operatorConfigs`. */
    readonly name: string;
}

/** Overlay-wide WireGuard settings, shared by `WireGuardMeshArgs` and the cluster spec. */
export interface WireGuardSettingsArgs {
    /**
     * How nodes peer.
     * @default "hub"
     */
    readonly topology?: Topology;
    /**
     * The overlay network; every node gets one address in it.
     * @default "10.100.0.0/24"
     */
    readonly cidr?: string;
    /**
     * UDP port WireGuard listens on, on every node.
     * @default 51820
     */
    readonly listenPort?: number;
    /**
     * Name of the WireGuard interface (k3s uses it as its flannel interface).
     * @default "wg0"
     */
    readonly interfaceName?: string;
    /**
     * `PersistentKeepalive` in seconds. Unset, only hosts behind NAT send it (25 s) to their peers; set
     * explicitly, every host sends it to every peer, public hosts included.
     * @default 25, on hosts behind NAT only
     */
    readonly keepalive?: number;
    /**
     * Add a preshared key (a secret per peer pair) for post-quantum resistance.
     * @default false
     */
    readonly presharedKeys?: boolean;
    /**
     * Default MTU of the WireGuard interfaces (1280 to 8920).
     * @default 1420
     */
    readonly mtu?: number;
    /**
     * Operator peers: machines outside the cluster that get a WireGuard client config for the overlay (see
     * `WireGuardOperatorArgs`), e.g. to reach the Kubernetes API at an overlay address.
     * @default none
     */
    readonly operators?: WireGuardOperatorArgs[];
}

/** The overlay: the hosts and how they form one network. */
export interface WireGuardMeshArgs extends WireGuardSettingsArgs {
    /** The machines, in a stable order: append new ones at the end (addresses of earlier hosts never move). */
    readonly hosts: WireGuardHostArgs[];
    /**
     * The k3s pod CIDR; the overlay and the LANs must not overlap it.
     * @default "10.42.0.0/16"
     */
    readonly podCidr?: string;
    /**
     * The k3s service CIDR; the overlay and the LANs must not overlap it.
     * @default "10.43.0.0/16"
     */
    readonly serviceCidr?: string;
}

export const OVERLAY_DEFAULTS = {
    topology: Topology.Hub as Topology,
    cidr: "10.100.0.0/24",
    listenPort: 51820,
    interfaceName: "wg0",
    keepalive: 25,
    presharedKeys: false,
    mtu: 1420,
    podCidr: "10.42.0.0/16",
    serviceCidr: "10.43.0.0/16",
} as const;

/** The smallest MTU: IPv6 inside the tunnel needs 1280. */
export const MIN_MTU = 1280;
/** The largest MTU: 9000-byte jumbo frames minus WireGuard's 80 bytes of IPv6 + UDP + WireGuard overhead. */
export const MAX_MTU = 8920;

/**
 * The smallest explicit keepalive. WireGuard reads `PersistentKeepalive = 0` as "off", and an explicit
 * keepalive applies to every peer of every host, so 0 would silently stop the keepalives that hold the NAT
 * mappings of hosts behind NAT open. Used by the stack-config schema and by `validateOverlay`.
 */
export const MIN_KEEPALIVE = 1;
/** The largest keepalive: `PersistentKeepalive` is a 16-bit number of seconds. */
export const MAX_KEEPALIVE = 65535;
