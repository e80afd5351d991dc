// Re-exported from the package root (components/src/index.ts).
export type { PublicIngressForwardArgs } from "./model";
export { PublicIngressForward } from "./forward";
