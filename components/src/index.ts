export * from "./util/errors";
export * from "./util/internals";
export { isValidHostname } from "./util/hostname";
export * from "./host";
export * from "./wireguard";
export * from "./tailscale";
export * from "./k3s";
export * from "./kube";
export * from "./pki";
export * from "./apps";
export * from "./cloudflare";
export * from "./ingress";
export * from "./addons";
export * from "./cluster";
// k3s and kube both name the region label; it is the same constant.
export { REGION_LABEL } from "./k3s";
