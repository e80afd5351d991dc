// Re-exported from the package root (components/src/index.ts).
export { PrivateCa, privateCaInternals } from "./tls";
export type { PrivateCaArgs, PrivateCaInternals } from "./tls";
