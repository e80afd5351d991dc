// Re-exported from the package root (components/src/index.ts).
export type { CloudflareTunnelArgs, TunnelRouteArgs } from "./model";
export { CLOUDFLARED_IMAGE } from "./plan";
export { CloudflareTunnel, createCloudflaredConnector } from "./tunnel";
