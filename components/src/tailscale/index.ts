// Re-exported from the package root (components/src/index.ts).
export type { TailscaleHostArgs } from "./plan";
export { TailscaleOverlay } from "./component";
export type { TailscaleOverlayArgs } from "./component";

// Only for the composition layer (cluster/), the repository's tools and tests: not part of the package's API.
export { planTailscale, TAILSCALE_INTERFACE, validateTailscale } from "./plan";
export type { TailscaleHostPlan } from "./plan";
export { parseTailscaleAddress, renderTailscaleDown, renderTailscaleInstall, renderTailscaleUp, tailscaleUpArgs } from "./render";
export { tailscaleOverlayInternals } from "./component";
