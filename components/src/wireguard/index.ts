// Re-exported from the package root (components/src/index.ts).
export { MAX_KEEPALIVE, MAX_MTU, MIN_KEEPALIVE, MIN_MTU, Topology } from "./model";
export type { WireGuardHostArgs, WireGuardMeshArgs, WireGuardOperatorArgs, WireGuardSettingsArgs } from "./model";
export { KEEPALIVE_FIX, MTU_FIX } from "./validate";
export { WireGuardNode } from "./node";
export type { WireGuardNodeArgs, WireGuardPeerArgs } from "./node";
export { WireGuardMesh } from "./mesh";

// Only for the composition layer (cluster/), the repository's tools and tests: not part of the package's API.
export { OVERLAY_DEFAULTS } from "./model";
export { overlayProblems, parseEndpoint, validateOverlay } from "./validate";
export { wireguardPublicKey } from "./keys";
export { decideOverlay, interfaceSpecFromPlan, planOverlay, planOverlayAddresses, preferredAddress } from "./plan";
export type { OverlayPlan, PlannedNode, PlannedPeer } from "./plan";
export {
    chainNames,
    configPath,
    firewalldRecordPath,
    presharedKeySecret,
    PRIVATE_KEY_SECRET,
    renderWgConf,
    reresolvePaths,
    sysctlPath,
    sysctlRecordPath,
    watchdogPaths,
} from "./render";
export type { WgInterfaceSpec, WgPeerSpec } from "./render";
export {
    FirewallKind,
    hostFirewallRules,
    nameEndpointPeers,
    renderConfigBody,
    renderConfigDeleteBody,
    renderInstallBody,
    renderInstallDeleteBody,
    renderLanRouteHint,
    renderReresolveScript,
    renderWatchdogScript,
    RERESOLVE_AFTER_SECONDS,
    RERESOLVE_INTERVAL_SECONDS,
    watchdogIntervalSeconds,
} from "./scripts";
export { wireGuardNodeInternals } from "./node";
export { wireGuardMeshInternals } from "./mesh";
export { operatorConfigSpec, renderOperatorConfig } from "./operator";
export { lanReturnRouteCommands, lanReturnRoutes, lanRoutesFromPeers } from "./subnets";
