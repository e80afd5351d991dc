import type * as k8s from "@pulumi/kubernetes";

type TopologySpreadConstraint = k8s.types.input.core.v1.TopologySpreadConstraint;

/** The node label k3s hosts carry for their location (set by the k3s layer from each host's `location`). */
export const REGION_LABEL = "topology.kubernetes.io/region";
export const ARCH_LABEL = "kubernetes.io/arch";
export const HOSTNAME_LABEL = "kubernetes.io/hostname";

/** The standard `app.kubernetes.io/*` labels. */
export function standardLabels(appName: string, component: string, instance = appName): Record<string, string> {
    return {
        "app.kubernetes.io/name": appName,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "hybridinfra",
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

/** The labels a selector uses: name and instance only, since a Deployment's selector can never change. */
export function selectorLabels(labels: Record<string, string>): Record<string, string> {
    return { "app.kubernetes.io/name": labels["app.kubernetes.io/name"], "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"] };
}

/**
 * Spread across locations first (a dark site takes at most its share of replicas), then across nodes.
 * `ScheduleAnyway`: with fewer locations than replicas, or a site down, pods must still start somewhere.
 */
export function spreadConstraints(selector: Record<string, string>): TopologySpreadConstraint[] {
    return [REGION_LABEL, HOSTNAME_LABEL].map((topologyKey) => ({
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: { ...selector } },
    }));
}
