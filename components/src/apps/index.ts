// Re-exported from the package root (components/src/index.ts).
export { Exposure, TlsMode } from "./model";
export type { AppPortArgs, AppResourcesArgs, AppSpecArgs, AppTlsArgs, ExposedAppArgs, HttpProbeArgs, PlacementArgs, ResourceQuantityArgs } from "./model";
export { MAX_REPLICAS, REPLICAS_FIX } from "./validate";
export { ExposedApp } from "./exposedApp";

// Only for the composition layer (cluster/), the repository's tools and tests: not part of the package's API.
export { validateApps } from "./validate";
export { exposedAppInternals } from "./exposedApp";
