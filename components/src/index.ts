/**
 * The package entry (`@hybridinfra/components`): its public API, named one by one. Public means what the
 * package's users need: the components, their argument types, the enums and constants those arguments use,
 * the error types, and the helpers the stack program (infra/) calls. Everything else is internal; each
 * domain's index.ts also names what the composition layer (cluster/), the tools and the tests use.
 *
 * The component schema comes from this file: every ComponentResource class exported here is a component of
 * the Pulumi package `hybridinfra` (provider.ts), so export no other component class.
 */

// Errors: validation problems name the config path, the value and the fix.
export { HybridInfraConfigError, HybridInfraConfigErrors, nearest, showValue, throwAll } from "./util/errors";
// The rules the stack config's schema (infra/config.ts) shares with the components: one rule each.
export { DNS_LABEL_RE, isValidHostname } from "./util/hostname";
export { isIpv4, parseCidr } from "./util/cidr";

// SSH hosts, shared by every host-side component.
export { SSH_ADDRESS_FIX, sshAddressProblem, validatePrivateKey } from "./host";
export type { SshCheckOptions, SshHostArgs, SshJumpArgs } from "./host";

// WireGuard overlay.
export { KEEPALIVE_FIX, MAX_KEEPALIVE, MAX_MTU, MIN_KEEPALIVE, MIN_MTU, MTU_FIX, Topology, WireGuardMesh, WireGuardNode } from "./wireguard";
export type { WireGuardHostArgs, WireGuardMeshArgs, WireGuardNodeArgs, WireGuardOperatorArgs, WireGuardPeerArgs, WireGuardSettingsArgs } from "./wireguard";

// Tailscale overlay.
export { TailscaleOverlay } from "./tailscale";
export type { TailscaleHostArgs, TailscaleOverlayArgs } from "./tailscale";

// k3s.
export {
    Datastore,
    DATASTORE_ENDPOINT_FIX,
    datastoreEndpointProblem,
    FailoverProfile,
    K3S_SETTINGS_OUTPUT,
    K3sAgent,
    K3sCluster,
    k3sChangeProblems,
    K3sServer,
    NodeRole,
    recordK3sSettings,
} from "./k3s";
export type {
    K3sAgentArgs,
    K3sAirgapArgs,
    K3sBackupArgs,
    K3sBackupS3Args,
    K3sClusterArgs,
    K3sInstallArgs,
    K3sNodeArgs,
    K3sNodeCommonArgs,
    K3sRecordedSettings,
    K3sServerArgs,
    K3sSettingsArgs,
} from "./k3s";

// Kubernetes: the node label of a host's location (for placement).
export { REGION_LABEL } from "./kube";

// TLS: a private CA that apps can share.
export { PrivateCa, privateCaInternals } from "./pki";
export type { PrivateCaArgs, PrivateCaInternals } from "./pki";

// Apps.
export { ExposedApp, Exposure, MAX_REPLICAS, REPLICAS_FIX, TlsMode } from "./apps";
export type { AppPortArgs, AppResourcesArgs, AppSpecArgs, AppTlsArgs, ExposedAppArgs, HttpProbeArgs, PlacementArgs, ResourceQuantityArgs } from "./apps";

// Cloudflare Tunnel.
export { CLOUDFLARED_IMAGE, CloudflareTunnel } from "./cloudflare";
export type { CloudflareTunnelArgs, TunnelRouteArgs } from "./cloudflare";

// Public ingress node.
export { PublicIngressForward } from "./ingress";
export type { PublicIngressForwardArgs } from "./ingress";

// Add-ons.
export { CERT_MANAGER_VERSION, CertManager, LETS_ENCRYPT_PRODUCTION, TraefikDashboard } from "./addons";
export type { CertManagerArgs, TraefikDashboardArgs } from "./addons";

// The whole cluster, and the checks the stack program runs before and after composing it.
export {
    CLUSTER_HOSTS_OUTPUT,
    clusterConsistencyProblems,
    clusterReachProblems,
    HostRole,
    planCluster,
    withDeployedHosts,
    hostsInCluster,
    HybridCluster,
    IngressMode,
    kubeconfigEndpointProblems,
    OverlayKind,
    vanishedHostProblems,
} from "./cluster";
export type {
    ClusterPlan,
    ClusterNodeSpec,
    ClusterAppArgs,
    ClusterCloudflareArgs,
    ClusterHostArgs,
    ClusterIngressArgs,
    ClusterK3sArgs,
    ClusterOverlayArgs,
    ClusterSshArgs,
    HybridClusterArgs,
} from "./cluster";

// Internals that the repository's engine tests and harness import from the package entry (tests/engine,
// tests/controlplane, tests/harness); kept exported for them, not meant for users.
export { acmeClusterIssuer, TRAEFIK_CHART_CONFIG, traefikDashboardValues } from "./addons";
export { createCloudflaredConnector } from "./cloudflare";
export { failoverTimings, planNodeConfig } from "./k3s";
export { standardLabels } from "./kube";
