/**
 * Taking a machine out of a running cluster in a safe order: `hosts[i].remove: true`.
 *
 * Deleting a host's entry outright lets Pulumi run things in its own order: every update first (the other
 * hosts' WireGuard configs drop the machine's peer), the deletes last (the drain in the k3s-node step's
 * delete). The drain then runs against a node the overlay has already cut off: its pods cannot stop, the
 * drain waits out its timeout, and the Node is deleted with its pods never shut down cleanly.
 *
 * With `remove: true` the run registers, instead of the machine's own steps, one *node removal* step on the
 * first server (cordon, drain honouring PodDisruptionBudgets, delete the Node), and every overlay step of the
 * other hosts depends on it. So in one `pulumi up`:
 *   1. (create) the node removal step drains the machine while it is still on the overlay;
 *   2. (update) the other hosts' WireGuard configs drop its peer, after that step;
 *   3. (delete, Pulumi's last phase) the machine's own steps are deleted: k3s uninstalled, the overlay taken
 *      down on it.
 * A later run with the entry deleted changes nothing. The program records which hosts are in the cluster
 * (`CLUSTER_HOSTS_OUTPUT`) and refuses, in `pulumi preview`, an entry deleted without that first run.
 */
import { HybridInfraConfigError, showValue } from "../util/errors";

/** The stack output that lists the hosts in the cluster after the last `pulumi up` (leaving ones excluded). */
export const CLUSTER_HOSTS_OUTPUT = "clusterHosts";

/** The parts of a host the removal rules read. */
export interface RemovalHost {
    readonly name: string;
    readonly roles: readonly string[];
    readonly ssh: { readonly jumpHost?: string };
    readonly remove?: boolean;
}

/** Hosts marked `remove: true` that cannot leave that way, all at once. */
export function removalProblems(hosts: readonly RemovalHost[]): HybridInfraConfigError[] {
    const out: HybridInfraConfigError[] = [];
    const firstServer = hosts.find((h) => h.roles.includes("server"));
    hosts.forEach((h, i) => {
        if (h.remove !== true) return;
        const at = `hosts[${i}].remove`;
        if (h === firstServer) {
            out.push(
                new HybridInfraConfigError(
                    at,
                    `is true on ${showValue(h.name)}, the first server: it holds the datastore (sqlite) or started it (etcd), every node joins through it and the node removal runs on it`,
                    "with k3s.datastore etcd, list first another server that is already a member (it takes over joins and the kubeconfig), then this one can leave; with sqlite the data lives only here: move the workloads to a new stack",
                ),
            );
        }
        if (h.roles.includes("hub")) {
            out.push(new HybridInfraConfigError(at, `is true on ${showValue(h.name)}, a WireGuard hub: every other host reaches the overlay through it`, `give another host with a publicEndpoint the role "hub" in the same run, and remove "hub" from ${showValue(h.name)}'s roles`));
        }
        hosts.forEach((other, j) => {
            if (other.remove !== true && other.ssh.jumpHost === h.name) {
                out.push(new HybridInfraConfigError(at, `is true on ${showValue(h.name)}, the SSH jump host of hosts[${j}] (${showValue(other.name)})`, `give hosts[${j}].ssh another jumpHost first, or remove ${showValue(other.name)} in the same run`));
            }
        });
    });
    return out;
}

/** The host names to record after a run: the hosts in the cluster, leaving ones excluded. */
export function hostsInCluster(hosts: readonly RemovalHost[]): string[] {
    return hosts.filter((h) => h.remove !== true).map((h) => h.name);
}

/**
 * Hosts that were in the cluster after the last `pulumi up` (`previous`, the recorded output as read back:
 * anything) but whose entry is gone without a run with `remove: true`. A missing record refuses nothing.
 */
export function vanishedHostProblems(previous: unknown, hosts: readonly RemovalHost[]): HybridInfraConfigError[] {
    if (!Array.isArray(previous)) return [];
    const named = new Set(hosts.map((h) => h.name));
    return previous
        .filter((n): n is string => typeof n === "string" && !named.has(n))
        .map(
            (n) =>
                new HybridInfraConfigError(
                    "hosts",
                    `no longer lists ${showValue(n)}, which is in the cluster: deleting the entry directly drops its WireGuard peers before its drain, so its pods get no clean shutdown and the drain waits out its timeout`,
                    `put the entry back with \`remove: true\`, run \`pulumi up\` (it drains ${showValue(n)} while it is still reachable, then removes it), then delete the entry`,
                ),
        );
}
