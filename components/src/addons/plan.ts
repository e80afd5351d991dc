import { HybridInfraConfigError, showValue } from "../util/errors";
import { isValidHostname } from "../util/hostname";

/** A pinned cert-manager release; bump deliberately (CRDs change with it). */
/**
 * A pinned cert-manager release; bump deliberately (CRDs change with it). The real-engine test installs the
 * CRDs of the same version, from the `github.com/cert-manager/cert-manager` Go module (tools/kube/build.sh).
 */
export const CERT_MANAGER_VERSION = "v1.21.2";
export const CERT_MANAGER_REPO = "https://charts.jetstack.io";
export const LETS_ENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory";
/** k3s configures its bundled Traefik from a HelmChartConfig of this name in kube-system. */
export const TRAEFIK_CHART_CONFIG = "traefik";
export const DASHBOARD_AUTH_NAME = "traefik-dashboard-auth";

export interface TraefikDashboardPlan {
    readonly hostname?: string;
    readonly username: string;
}

export function validateTraefikDashboard(args: { hostname?: string; username?: string }, path = "ingress.traefikDashboard"): void {
    if (args.hostname !== undefined && (!isValidHostname(args.hostname) || args.hostname.startsWith("*."))) {
        throw new HybridInfraConfigError(`${path}.hostname`, `is not a valid DNS hostname, got ${showValue(args.hostname)}`, "use a name such as `traefik.example.com`, or leave it out to reach the dashboard with kubectl port-forward only");
    }
    if (args.username !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(args.username)) {
        throw new HybridInfraConfigError(`${path}.username`, `must be letters, digits, '.', '_' or '-', got ${showValue(args.username)}`, "use a plain user name such as `admin`");
    }
}

/**
 * Values for the bundled Traefik chart (as the HelmChartConfig's `valuesContent`; JSON is valid YAML).
 * Without a hostname the dashboard stays on Traefik's internal `traefik` entry point (port-forward only);
 * with one it is published on websecure behind basic auth.
 */
export function traefikDashboardValues(plan: TraefikDashboardPlan): Record<string, unknown> {
    const dashboard: Record<string, unknown> = { enabled: true };
    if (plan.hostname !== undefined) {
        dashboard.matchRule = `Host(\`${plan.hostname}\`) && (PathPrefix(\`/dashboard\`) || PathPrefix(\`/api\`))`;
        dashboard.entryPoints = ["websecure"];
        dashboard.middlewares = [{ name: DASHBOARD_AUTH_NAME }];
    }
    return { ingressRoute: { dashboard } };
}

export function validateCertManager(args: { acmeEmail?: string; acmeServer?: string; namespace?: string }, path = "ingress.certManager"): void {
    if (args.acmeEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(args.acmeEmail)) {
        throw new HybridInfraConfigError(`${path}.acmeEmail`, `is not an email address, got ${showValue(args.acmeEmail)}`, "use the address Let's Encrypt sends expiry notices to");
    }
    if (args.acmeServer !== undefined && !/^https:\/\/\S+$/.test(args.acmeServer)) {
        throw new HybridInfraConfigError(`${path}.acmeServer`, `must be an https URL, got ${showValue(args.acmeServer)}`, `use an ACME directory URL such as ${LETS_ENCRYPT_PRODUCTION}`);
    }
    if (args.namespace !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(args.namespace)) {
        throw new HybridInfraConfigError(`${path}.namespace`, `must be a lowercase DNS label, got ${showValue(args.namespace)}`, "use a name such as `cert-manager`");
    }
}

/** cert-manager chart values: CRDs installed with the chart and kept on uninstall (their loss deletes every Certificate). */
export function certManagerValues(): Record<string, unknown> {
    return { crds: { enabled: true, keep: true } };
}

/** An ACME ClusterIssuer that solves HTTP-01 through k3s's Traefik. */
export function acmeClusterIssuer(name: string, email: string, server: string): Record<string, unknown> {
    return {
        acme: {
            email,
            server,
            privateKeySecretRef: { name: `${name}-account-key` },
            solvers: [{ http01: { ingress: { ingressClassName: "traefik" } } }],
        },
    };
}
