/**
 * Cluster-wide checks of how the machine that runs `pulumi up` reaches the hosts, run before anything is
 * registered and shared with the stack-config validation (`infra/config.ts`), so every problem is reported
 * at once with its config path.
 */
import { HybridInfraConfigError } from "../util/errors";
import { sshReachProblems } from "../host/reach";

/** The parts of a host the reachability checks read (a cluster host or a parsed stack-config host). */
export interface ReachClusterHost {
    readonly name: string;
    readonly location: string;
    readonly publicEndpoint?: string;
    readonly roles: readonly string[];
    readonly ssh: { readonly host: string; readonly port?: number; readonly jumpHost?: string };
}

/** Every problem of the SSH jump graph of a cluster's hosts (see `sshReachProblems`). Pure. */
export function clusterReachProblems(hosts: readonly ReachClusterHost[]): HybridInfraConfigError[] {
    return sshReachProblems(
        hosts.map((h) => ({
            name: h.name,
            address: h.ssh.host,
            location: h.location,
            ...(h.ssh.port !== undefined ? { port: h.ssh.port } : {}),
            ...(h.ssh.jumpHost !== undefined ? { jumpHost: h.ssh.jumpHost } : {}),
            ...(h.publicEndpoint !== undefined ? { publicEndpoint: h.publicEndpoint } : {}),
        })),
    );
}
