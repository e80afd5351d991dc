// Re-exported from the package root (components/src/index.ts).
export { HostRole, IngressMode, OverlayKind } from "./types";
export type { ClusterAppArgs, ClusterCloudflareArgs, ClusterHostArgs, ClusterIngressArgs, ClusterK3sArgs, ClusterOverlayArgs, ClusterSshArgs, HybridClusterArgs } from "./types";
export { HybridCluster } from "./component";
export { planCluster, withDeployedHosts } from "./plan";
export type { ClusterNodeSpec, ClusterPlan } from "./plan";
export { clusterReachProblems, kubeconfigEndpointProblems } from "./reach";
export { clusterConsistencyProblems } from "./consistency";
export { CLUSTER_HOSTS_OUTPUT, hostsInCluster, vanishedHostProblems } from "./removal";

// Only for the repository's tools and tests: not part of the package's API.
export { hybridClusterInternals } from "./component";
export { endpointHost, hostPrivateKey, sshOf } from "./plan";
export { removalProblems } from "./removal";
