import { HybridInfraConfigError, showValue } from "../util/errors";
import { FailoverProfile } from "./model";

/**
 * The timing knobs that decide how long pods stay bound to a node that stopped answering.
 *
 * Worst-case failover bound (seconds), from a node's last heartbeat until its pods run Ready elsewhere:
 *
 *     boundSeconds = nodeMonitorGracePeriod + nodeMonitorPeriod + max(notReadyToleration, unreachableToleration)
 *                    + ceil((largestSiteNodes - 1) / nodeEvictionRate) + RESCHEDULE_SECONDS
 *
 * - the node controller only marks a node unhealthy once its lease/status is older than the grace period,
 *   and it looks every `node-monitor-period`, so the taint lands at most grace + period after the last beat;
 * - the NotReady/Unreachable NoExecute taint then evicts pods after their toleration, which the apiserver's
 *   DefaultTolerationSeconds admission plugin sets from `default-{not-ready,unreachable}-toleration-seconds`;
 * - the controller taints the nodes of one zone (location) at `node-eviction-rate` nodes per second, so a
 *   whole dark site's last node is tainted (n - 1) / rate seconds after its first (found by measuring: a
 *   two-node site took 10 s longer than the formula without this term);
 * - the replacement is then created, scheduled and started (`RESCHEDULE_SECONDS`).
 * Measured against a real control plane for every profile (bench/README.md, "Failover"): the bound is never
 * below the measurement and at most 20 % above it. Pods created before a profile change keep the
 * tolerations they were admitted with.
 */
export interface FailoverTimings {
    readonly profile: FailoverProfile;
    /** kubelet `node-status-update-frequency`. */
    readonly nodeStatusUpdateFrequencySeconds: number;
    /** kube-controller-manager `node-monitor-grace-period`. */
    readonly nodeMonitorGracePeriodSeconds: number;
    /** kube-controller-manager `node-monitor-period`. */
    readonly nodeMonitorPeriodSeconds: number;
    /** kube-apiserver `default-not-ready-toleration-seconds`. */
    readonly notReadyTolerationSeconds: number;
    /** kube-apiserver `default-unreachable-toleration-seconds`. */
    readonly unreachableTolerationSeconds: number;
    /**
     * kube-controller-manager `node-eviction-rate`: nodes per second whose pods the controller starts to
     * evict in one zone (our zones are locations: the `topology.kubernetes.io/region` label). Upstream 0.1,
     * so when a site of n nodes goes dark, the last node's taint lands (n - 1) × 10 s after the first.
     */
    readonly nodeEvictionRate: number;
    /** Nodes in the largest location, which sets how long a whole site's evictions take to start. */
    readonly largestSiteNodes: number;
    /** Rendered `kubelet-arg` entries (every node). Empty for the default profile (upstream values). */
    readonly kubeletArgs: readonly string[];
    /** Rendered `kube-controller-manager-arg` entries (servers). */
    readonly kubeControllerManagerArgs: readonly string[];
    /** Rendered `kube-apiserver-arg` entries (servers). */
    readonly kubeApiServerArgs: readonly string[];
    /** The worst-case failover bound (formula above). */
    readonly boundSeconds: number;
}

/**
 * Seconds from a pod's eviction until its replacement is Ready on another node that already has the image:
 * the ReplicaSet controller, the scheduler and the start. Under a second on the test control plane
 * (bench/README.md, "Failover"), where pods start at once (KWOK); a real start takes longer, and an image
 * pull or a slow readiness probe adds to it.
 */
export const RESCHEDULE_SECONDS = 3;

/** Flags whose values the profile owns; extra args must not set them, or the exported bound would lie. */
export const FAILOVER_FLAGS = {
    kubelet: ["node-status-update-frequency"],
    kubeControllerManager: ["node-monitor-grace-period", "node-monitor-period", "node-eviction-rate"],
    kubeApiServer: ["default-not-ready-toleration-seconds", "default-unreachable-toleration-seconds"],
} as const;

/** kube-controller-manager's default `node-eviction-rate` (nodes per second per zone). */
export const UPSTREAM_EVICTION_RATE = 0.1;

interface ProfileValues {
    readonly statusUpdate: number;
    readonly grace: number;
    readonly monitorPeriod: number;
    readonly notReady: number;
    readonly unreachable: number;
    /** `node-eviction-rate`; emitted only where it differs from upstream's 0.1. */
    readonly evictionRate: number;
    /** Emit the flags (false for upstream defaults, so k3s runs unmodified). */
    readonly emit: boolean;
}

const PROFILES: Record<FailoverProfile, ProfileValues> = {
    // Upstream: kubelet reports every 10 s; the grace period is 40 s up to Kubernetes 1.31 and 50 s from 1.32.
    // The bound takes the larger so it holds for every version k3s may install from a channel.
    [FailoverProfile.Default]: { statusUpdate: 10, grace: 50, monitorPeriod: 5, notReady: 300, unreachable: 300, evictionRate: UPSTREAM_EVICTION_RATE, emit: false },
    // Seed 000 (12 % loss, 250 ms): fewer status updates and a 5 min grace period so a few lost packets never
    // mark the node NotReady and reshuffle pods across the slow link.
    [FailoverProfile.LossyLink]: { statusUpdate: 60, grace: 300, monitorPeriod: 5, notReady: 300, unreachable: 300, evictionRate: UPSTREAM_EVICTION_RATE, emit: true },
    // Seed 004 (power cuts, services back in under a minute; we aim at 45 s): 5 status updates per grace
    // period, so a node is only judged after 5 missed updates; the controller looks every 2 s; pods leave a
    // NotReady node after 20 s; a dark site's nodes are tainted one per second, not one per 10 s. Needs a
    // link that loses few packets (else use lossy-link): the grace period, not the tolerations or the
    // eviction rate, is what decides whether a slow link flaps.
    [FailoverProfile.Fast]: { statusUpdate: 4, grace: 20, monitorPeriod: 2, notReady: 20, unreachable: 20, evictionRate: 1, emit: true },
};

/** Checks a set of timings; the profile table goes through it, and so would any future custom profile. */
export function validateFailoverTimings(
    t: Omit<FailoverTimings, "kubeletArgs" | "kubeControllerManagerArgs" | "kubeApiServerArgs" | "boundSeconds" | "nodeEvictionRate" | "largestSiteNodes"> & { nodeEvictionRate?: number },
    path = "k3s.failoverProfile",
): void {
    if (t.nodeEvictionRate !== undefined && !(t.nodeEvictionRate > 0)) {
        throw new HybridInfraConfigError(path, `node-eviction-rate must be more than 0 nodes per second, got ${showValue(t.nodeEvictionRate)}`, "use a positive rate, e.g. 0.1 (upstream) or 1");
    }
    const positive: [string, number][] = [
        ["node-status-update-frequency", t.nodeStatusUpdateFrequencySeconds],
        ["node-monitor-grace-period", t.nodeMonitorGracePeriodSeconds],
        ["node-monitor-period", t.nodeMonitorPeriodSeconds],
    ];
    for (const [flag, v] of positive) {
        if (!Number.isInteger(v) || v <= 0) {
            throw new HybridInfraConfigError(path, `${flag} must be a positive whole number of seconds, got ${showValue(v)}`, "use whole seconds greater than 0");
        }
    }
    for (const [flag, v] of [
        ["default-not-ready-toleration-seconds", t.notReadyTolerationSeconds],
        ["default-unreachable-toleration-seconds", t.unreachableTolerationSeconds],
    ] as const) {
        if (!Number.isInteger(v) || v < 0) {
            throw new HybridInfraConfigError(path, `${flag} must be a whole number of seconds ≥ 0, got ${showValue(v)}`, "use whole seconds");
        }
    }
    if (t.nodeMonitorGracePeriodSeconds % t.nodeStatusUpdateFrequencySeconds !== 0) {
        throw new HybridInfraConfigError(
            path,
            `node-monitor-grace-period ${t.nodeMonitorGracePeriodSeconds}s is not a multiple of node-status-update-frequency ${t.nodeStatusUpdateFrequencySeconds}s`,
            "make the grace period a whole number of status updates (e.g. 20s with 4s), so a node is judged on complete missed updates",
        );
    }
    if (t.nodeMonitorGracePeriodSeconds < 2 * t.nodeStatusUpdateFrequencySeconds) {
        throw new HybridInfraConfigError(
            path,
            `node-monitor-grace-period ${t.nodeMonitorGracePeriodSeconds}s allows fewer than 2 status updates of ${t.nodeStatusUpdateFrequencySeconds}s`,
            "allow at least two missed updates before a node is declared unhealthy",
        );
    }
}

/** Seconds as a Go duration the Kubernetes flags accept (`5m`, `20s`). */
export function goDuration(seconds: number): string {
    return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

/** Parses the Go durations this module renders (and plain `h`/`m`/`s` combinations) into seconds. */
export function parseGoDuration(text: string): number {
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
    if (!m || text === "") throw new Error(`not a duration: ${JSON.stringify(text)}`);
    return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/**
 * The timings, rendered flags and failover bound of a profile, for a cluster whose largest location has
 * `largestSiteNodes` nodes (default 1). Pure.
 */
export function failoverTimings(profile: FailoverProfile, largestSiteNodes = 1): FailoverTimings {
    const p = PROFILES[profile];
    if (p === undefined) {
        throw new HybridInfraConfigError(
            "k3s.failoverProfile",
            `is not a failover profile, got ${showValue(profile)}`,
            `use one of ${Object.values(FailoverProfile).map((v) => JSON.stringify(v)).join(", ")}`,
        );
    }
    const base = {
        profile,
        nodeStatusUpdateFrequencySeconds: p.statusUpdate,
        nodeMonitorGracePeriodSeconds: p.grace,
        nodeMonitorPeriodSeconds: p.monitorPeriod,
        notReadyTolerationSeconds: p.notReady,
        unreachableTolerationSeconds: p.unreachable,
        nodeEvictionRate: p.evictionRate,
    };
    validateFailoverTimings(base);
    const sites = Math.max(1, Math.floor(largestSiteNodes));
    return {
        ...base,
        kubeletArgs: p.emit ? [`node-status-update-frequency=${goDuration(p.statusUpdate)}`] : [],
        kubeControllerManagerArgs: p.emit
            ? [
                  `node-monitor-grace-period=${goDuration(p.grace)}`,
                  `node-monitor-period=${goDuration(p.monitorPeriod)}`,
                  ...(p.evictionRate !== UPSTREAM_EVICTION_RATE ? [`node-eviction-rate=${p.evictionRate}`] : []),
              ]
            : [],
        kubeApiServerArgs: p.emit
            ? [`default-not-ready-toleration-seconds=${p.notReady}`, `default-unreachable-toleration-seconds=${p.unreachable}`]
            : [],
        largestSiteNodes: sites,
        boundSeconds: p.grace + p.monitorPeriod + Math.max(p.notReady, p.unreachable) + Math.ceil((sites - 1) / p.evictionRate) + RESCHEDULE_SECONDS,
    };
}
