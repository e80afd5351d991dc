// Re-exported from the package root (components/src/index.ts).
export { acmeClusterIssuer, CERT_MANAGER_VERSION, LETS_ENCRYPT_PRODUCTION, TRAEFIK_CHART_CONFIG, traefikDashboardValues } from "./plan";
export { TraefikDashboard } from "./traefikDashboard";
export type { TraefikDashboardArgs } from "./traefikDashboard";
export { CertManager } from "./certManager";
export type { CertManagerArgs } from "./certManager";
