/**
 * Generated clusters for the benchmark: the stack config (`hybrid-infra:cluster`) of a fleet of N hosts.
 *
 * Shape, for every topology:
 * - site `cloud`: host `hub` (public, the WireGuard hub or relay), host `server` (public, the one k3s
 *   server: sqlite; HA would add one install step per extra server to the critical path), then public
 *   cloud agents;
 * - sites `site-1` … `site-K` (10 hosts each): the first host is public (it port-forwards and is the SSH jump
 *   host of its site, and the location gateway in the `locations` topology), the rest are NAT'd home agents
 *   reached through it.
 * About a fifth of the hosts have a public endpoint (two fifths at N = 10). Two apps behind Traefik on the
 * server's public address.
 * Everything is a pure function of (topology, N): runs and processes see the same cluster.
 */
import type { ClusterConfig } from "../infra/config";

export const Topology = { Hub: "hub", Mesh: "mesh", Locations: "locations" } as const;
export type Topology = (typeof Topology)[keyof typeof Topology];

export interface GenerateOptions {
    readonly topology: Topology;
    /** Number of hosts (≥ 3). */
    readonly n: number;
    /** Append one NAT'd home agent (the blast-radius change). @default false */
    readonly addHost?: boolean;
    /** Image of the first app (the other blast-radius change). @default "nginx:1.27.3" */
    readonly appImage?: string;
}

/** Hosts per site (a site's first host is public). */
export const SITE_SIZE = 10;
/** Name of the host the add-host change appends. */
export const ADDED_HOST = "site-1-new";

type HostConfig = ClusterConfig["hosts"][number];

function siteHost(site: number, j: number, name: string = `site-${site}-${j}`): HostConfig {
    const location = `site-${site}`;
    if (j === 0) {
        const ip = `198.51.${100 + Math.floor(site / 250)}.${(site % 250) + 1}`;
        return { name, ssh: { address: ip }, location, publicEndpoint: ip, roles: ["agent"] };
    }
    // NAT'd: the SSH address is the LAN address, reached through the site's public host.
    return { name, ssh: { address: `192.168.${site % 250}.${10 + j}`, jumpHost: `site-${site}-0` }, location, roles: ["agent"] };
}

export function generateCluster(o: GenerateOptions): ClusterConfig {
    if (!Number.isInteger(o.n) || o.n < 3) throw new Error(`n must be an integer ≥ 3, got ${o.n}`);
    const hosts: HostConfig[] = [
        { name: "hub", ssh: { address: "203.0.113.1" }, location: "cloud", publicEndpoint: "203.0.113.1", roles: ["hub"] },
        { name: "server", ssh: { address: "203.0.113.2" }, location: "cloud", publicEndpoint: "203.0.113.2", roles: ["server"] },
    ];
    // A tenth of the fleet (at least one) are public cloud agents; the rest live in sites of SITE_SIZE.
    const cloudAgents = Math.max(1, Math.floor(o.n / 10));
    for (let i = 0; i < cloudAgents && hosts.length < o.n; i++) {
        const ip = `203.0.${114 + Math.floor(i / 250)}.${(i % 250) + 1}`;
        hosts.push({ name: `cloud-${i}`, ssh: { address: ip }, location: "cloud", publicEndpoint: ip, roles: ["agent"] });
    }
    for (let k = 0; hosts.length < o.n; k++) hosts.push(siteHost(Math.floor(k / SITE_SIZE) + 1, k % SITE_SIZE));
    if (o.addHost) {
        // A NAT'd home agent in an existing site (site-1 exists for every n ≥ 10).
        hosts.push({ ...siteHost(1, SITE_SIZE, ADDED_HOST) });
    }
    return {
        hosts,
        // A /20: room for 4094 hosts, so N = 1000 probes few collisions.
        overlay: { kind: "wireguard", topology: o.topology, cidr: "10.100.0.0/20" },
        k3s: { version: "v1.31.4+k3s1", datastore: "sqlite" },
        ingress: { mode: "traefik", tls: "private-ca" },
        apps: [
            {
                name: "web",
                image: o.appImage ?? "nginx:1.27.3",
                replicas: 3,
                ports: [{ containerPort: 80 }],
                hostnames: ["web.example.com"],
                readinessProbe: { path: "/", port: 80 },
            },
            { name: "api", image: "traefik/whoami:v1.10.3", replicas: 2, ports: [{ containerPort: 80 }], hostnames: ["api.example.com"], paths: ["/"] },
        ],
    };
}

/** The flat config map Pulumi would hand the program (secrets are placeholders, as in the offline render). */
export function stackConfig(cluster: ClusterConfig): { config: Record<string, string>; secretKeys: string[] } {
    return {
        config: {
            "hybrid-infra:cluster": JSON.stringify(cluster),
            "hybrid-infra:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nPLACEHOLDER-sshPrivateKey-not-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n",
        },
        secretKeys: ["hybrid-infra:sshPrivateKey"],
    };
}
