import type * as cloudflare from "@pulumi/cloudflare";
import type * as k8s from "@pulumi/kubernetes";
import { HybridInfraConfigError, showValue } from "../util/errors";
import { isValidHostname } from "../util/hostname";
import { selectorLabels, spreadConstraints, standardLabels } from "../kube/labels";
import type { CloudflareTunnelArgs, TunnelRouteArgs } from "./model";
import { compact } from "../util/compact";

type IngressRule = cloudflare.types.input.ZeroTrustTunnelCloudflaredConfigConfigIngress;

/** A pinned cloudflared release; bump deliberately. */
export const CLOUDFLARED_IMAGE = "cloudflare/cloudflared:2025.8.1";
/** cloudflared answers 404 for any hostname the rules do not name: the required last rule. */
export const CATCH_ALL_SERVICE = "http_status:404";
/** Key of the tunnel token in the cluster Secret. */
export const TOKEN_KEY = "token";
/** cloudflared's metrics server, which also serves `/ready` (200 once a connection to the edge is up). */
export const METRICS_PORT = 2000;

const ID_RE = /^[0-9a-f]{32}$/;
const SERVICE_RE = /^((https?|tcp|ssh|rdp|smb|unix|unix\+tls):\/\/\S+|http_status:[1-5][0-9]{2}|hello_world)$/;

/** The CNAME target of a tunnel's hostnames. */
export function tunnelCname(tunnelId: string): string {
    return `${tunnelId}.cfargotunnel.com`;
}

export function validateTunnel(args: CloudflareTunnelArgs, path = "cloudflare"): void {
    for (const key of ["accountId", "zoneId"] as const) {
        if (typeof args[key] !== "string" || !ID_RE.test(args[key])) {
            throw new HybridInfraConfigError(`${path}.${key}`, `must be a Cloudflare ID of 32 lowercase hex digits, got ${showValue(args[key])}`, `copy the ${key === "accountId" ? "Account ID" : "Zone ID"} from the zone's Overview page in the Cloudflare dashboard`);
        }
    }
    if (args.tunnelName !== undefined && (typeof args.tunnelName !== "string" || args.tunnelName.trim() === "")) {
        throw new HybridInfraConfigError(`${path}.tunnelName`, `must not be empty, got ${showValue(args.tunnelName)}`, "leave it out to use the resource name");
    }
    if (!Array.isArray(args.ingress) || args.ingress.length === 0) {
        throw new HybridInfraConfigError(`${path}.ingress`, `must list at least one hostname, got ${showValue(args.ingress)}`, "add the apps to expose through the tunnel");
    }
    const seen = new Map<string, number>();
    args.ingress.forEach((r, i) => {
        const at = `${path}.ingress[${i}]`;
        if (!isValidHostname(r.hostname) || r.hostname.startsWith("*.")) {
            throw new HybridInfraConfigError(`${at}.hostname`, `is not a valid DNS hostname, got ${showValue(r.hostname)}`, "use a lowercase fully qualified name in the zone, e.g. `app.example.com`");
        }
        const key = `${r.hostname} ${r.path ?? ""}`;
        if (seen.has(key)) {
            throw new HybridInfraConfigError(`${at}.hostname`, `duplicates ${path}.ingress[${seen.get(key)}].hostname ${showValue(r.hostname)}`, "route each hostname (and path) once");
        }
        seen.set(key, i);
        if (typeof r.service !== "string" || !SERVICE_RE.test(r.service)) {
            throw new HybridInfraConfigError(`${at}.service`, `is not a cloudflared origin, got ${showValue(r.service)}`, "use a URL such as `http://traefik.kube-system.svc.cluster.local:80`");
        }
    });
    if (args.replicas !== undefined && (!Number.isInteger(args.replicas) || args.replicas < 1)) {
        throw new HybridInfraConfigError(`${path}.replicas`, `must be an integer of at least 1, got ${showValue(args.replicas)}`, "use 2 or more so that the tunnel survives a site outage");
    }
    if (args.namespace !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(args.namespace)) {
        throw new HybridInfraConfigError(`${path}.namespace`, `must be a lowercase DNS label, got ${showValue(args.namespace)}`, "use a name such as `cloudflared`");
    }
}

/**
 * The tunnel's ingress rules: one per route in the given order, routes with a path before the
 * path-less route of the same hostname (cloudflared takes the first match), then the catch-all.
 */
export function tunnelIngressRules(routes: readonly TunnelRouteArgs[]): IngressRule[] {
    const ordered = routes.map((r, i) => ({ r, i })).sort((a, b) => {
        if (a.r.hostname === b.r.hostname && (a.r.path === undefined) !== (b.r.path === undefined)) return a.r.path === undefined ? 1 : -1;
        return a.i - b.i;
    });
    return [
        ...ordered.map(({ r }) => {
            const originRequest = {
                ...compact({ originServerName: r.originServerName }),
                ...(r.noTlsVerify ? { noTlsVerify: true } : {}),
            };
            return {
                hostname: r.hostname,
                service: r.service,
                ...compact({ path: r.path }),
                ...(Object.keys(originRequest).length > 0 ? { originRequest } : {}),
            };
        }),
        { service: CATCH_ALL_SERVICE },
    ];
}

/** The hostnames that get a DNS record (each once). */
export function tunnelHostnames(routes: readonly TunnelRouteArgs[]): string[] {
    return [...new Set(routes.map((r) => r.hostname))];
}

/** A stable resource-name suffix for a hostname (reordering routes must not replace records). */
export function hostnameSlug(hostname: string): string {
    return hostname.replace(/[^a-z0-9-]/g, "-");
}

export function cloudflaredLabels(tunnelName: string): Record<string, string> {
    return standardLabels("cloudflared", "tunnel", tunnelName);
}

export function cloudflaredDeploymentSpec(args: { replicas: number; image: string; tokenSecretName: string; labels: Record<string, string> }): k8s.types.input.apps.v1.DeploymentSpec {
    const selector = selectorLabels(args.labels);
    return {
        replicas: args.replicas,
        selector: { matchLabels: selector },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: args.replicas > 1 ? 0 : 1 } },
        template: {
            metadata: { labels: { ...args.labels } },
            spec: {
                topologySpreadConstraints: spreadConstraints(selector),
                securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 },
                containers: [
                    {
                        name: "cloudflared",
                        image: args.image,
                        // The token comes from the environment, never argv (visible in `ps` and the pod spec).
                        args: ["tunnel", "--no-autoupdate", "--metrics", `0.0.0.0:${METRICS_PORT}`, "run"],
                        env: [{ name: "TUNNEL_TOKEN", valueFrom: { secretKeyRef: { name: args.tokenSecretName, key: TOKEN_KEY } } }],
                        ports: [{ name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" }],
                        livenessProbe: { httpGet: { path: "/ready", port: METRICS_PORT }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 3 },
                        readinessProbe: { httpGet: { path: "/ready", port: METRICS_PORT }, periodSeconds: 5 },
                        resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "256Mi" } },
                        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                    },
                ],
            },
        },
    };
}
