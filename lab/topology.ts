/**
 * The lab's fixed topology: which namespaces exist, their addresses and how the test process reaches them.
 *
 * Everything the lab creates carries the `hil-` prefix (namespaces, the one root-namespace veth, the lock),
 * so `down` can remove exactly what `up` made and nothing else.
 */
import * as path from "node:path";

export const LAB_PREFIX = "hil-";

/** Where a lab host sits: on the "internet" bridge, or on the home LAN behind the NAT router. */
export const LabSide = { Internet: "internet", Home: "home" } as const;
export type LabSide = (typeof LabSide)[keyof typeof LabSide];

export interface LabHost {
    /** Host name (also its hostname inside its UTS namespace). */
    readonly name: string;
    /** Its network namespace. */
    readonly netns: string;
    /** Its own address: sshd listens here, port 22. */
    readonly address: string;
    readonly side: LabSide;
    /**
     * The port the router forwards to this host's sshd (203.0.113.1:<port>), for home hosts that are
     * reached directly rather than through a jump host.
     */
    readonly forwardedSshPort?: number;
    /**
     * Its INPUT chain ends in REJECT before any step runs, as on Oracle Cloud's images (`OCI_INPUT_RULES`):
     * established traffic, ICMP, loopback and SSH pass, everything else is rejected. Proves that the overlay
     * steps open what k3s needs over the overlay on such hosts (issue 13 §4).
     */
    readonly inputEndsInReject?: boolean;
}

export const INTERNET_CIDR = "203.0.113.0/24";
export const HOME_CIDR = "192.168.50.0/24";
export const ROUTER_PUBLIC = "203.0.113.1";
export const ROUTER_LAN = "192.168.50.1";
/** The test process's own address on the lab "internet" (a veth from the root namespace). */
export const ROOT_ADDRESS = "203.0.113.254";
export const INET_NETNS = `${LAB_PREFIX}inet`;
export const ROUTER_NETNS = `${LAB_PREFIX}router`;
export const ROOT_VETH = `${LAB_PREFIX}root`;

export const LAB_HOSTS: readonly LabHost[] = [
    { name: "cloud1", netns: `${LAB_PREFIX}cloud1`, address: "203.0.113.10", side: LabSide.Internet },
    { name: "cloud2", netns: `${LAB_PREFIX}cloud2`, address: "203.0.113.20", side: LabSide.Internet, inputEndsInReject: true },
    { name: "home1", netns: `${LAB_PREFIX}home1`, address: "192.168.50.11", side: LabSide.Home, forwardedSshPort: 2211 },
    { name: "home2", netns: `${LAB_PREFIX}home2`, address: "192.168.50.12", side: LabSide.Home },
    { name: "home3", netns: `${LAB_PREFIX}home3`, address: "192.168.50.13", side: LabSide.Home },
];

/**
 * The INPUT rules of an Oracle Cloud Linux/Ubuntu image (`iptables -S INPUT` there, less its own
 * `--sport 123` NTP rule), in order: the last one rejects everything not accepted before it.
 */
export const OCI_INPUT_RULES: readonly string[] = [
    "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
    "-A INPUT -p icmp -j ACCEPT",
    "-A INPUT -i lo -j ACCEPT",
    "-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT",
    "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
];

/** All namespaces of the lab, in creation order. */
export const LAB_NETNS: readonly string[] = [INET_NETNS, ROUTER_NETNS, ...LAB_HOSTS.map((h) => h.netns)];

export const LAB_DIR = __dirname;
/**
 * Per-run state (keys, per-host overlay dirs, logs), removed by `down`. It lives outside the checkout, in
 * /var/tmp: every host mounts its own /tmp, /run, /etc, /var/lib and /usr/local, so a state dir under any of
 * those (e.g. a checkout in /tmp, as CI's fresh clones may be) would be hidden from the host's own sshd.
 */
export const STATE_DIR = `/var/tmp/${LAB_PREFIX}lab`;
/** The client key `up` generates and authorizes on every host (0600). */
export const CLIENT_KEY = path.join(STATE_DIR, "id_ed25519");
/** What `up` wrote: host addresses, holder pids and host public keys. */
export const HOSTS_FILE = path.join(STATE_DIR, "hosts.json");
/** Serializes lab users (the CLI, test files) on one machine. */
export const LOCK_DIR = `/run/${LAB_PREFIX}lab.lock`;

export function labHost(name: string): LabHost {
    const h = LAB_HOSTS.find((x) => x.name === name);
    if (h === undefined) throw new Error(`no lab host ${name}; lab hosts: ${LAB_HOSTS.map((x) => x.name).join(", ")}`);
    return h;
}
