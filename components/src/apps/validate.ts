import * as pulumi from "@pulumi/pulumi";
import { HybridInfraConfigError, nearest, showValue } from "../util/errors";
import { DNS_LABEL_RE, isValidHostname } from "../util/hostname";
import { Exposure, TlsMode } from "./model";
import type { AppPortArgs, HttpProbeArgs, PlacementArgs } from "./model";

/**
 * The fields `validateApps` reads; `ExposedAppArgs` satisfies it, and so does the stack config's app entry
 * before it becomes one.
 */
export interface AppLike {
    readonly appName?: string;
    readonly namespace?: string;
    readonly image?: string;
    readonly replicas?: number;
    readonly ports?: readonly AppPortArgs[];
    readonly hostnames?: readonly string[];
    readonly paths?: readonly string[];
    readonly env?: Record<string, string>;
    readonly secretEnv?: Record<string, pulumi.Input<string>>;
    readonly livenessProbe?: HttpProbeArgs;
    readonly readinessProbe?: HttpProbeArgs;
    readonly placement?: PlacementArgs;
    readonly tls?: { readonly mode: string; readonly secretName?: string; readonly caCertPem?: pulumi.Input<string>; readonly caPrivateKeyPem?: pulumi.Input<string>; readonly issuerName?: pulumi.Input<string> };
    readonly exposure?: string;
}

export interface AppValidationContext {
    /** Locations the cluster's hosts have. */
    readonly knownLocations: readonly string[];
    /** The stack's Cloudflare settings, needed by tunnel exposure. */
    readonly cloudflare?: { readonly accountId?: string; readonly zoneId?: string };
}

/**
 * The most replicas one app may ask for. HybridInfra joins a handful of machines, and kubelet runs at most
 * 110 pods per node by default, so more than 100 replicas of one app is a typo (1000 for 10) far more often
 * than a plan: it would leave most pods Pending and make every rollout and drain wait on them. Shared with
 * the stack-config schema.
 */
export const MAX_REPLICAS = 100;
/** How to fix a replica count out of range (shared with the stack-config schema). */
export const REPLICAS_FIX = `set replicas from 1 to ${MAX_REPLICAS} (2 or more to keep serving while a site is down)`;

const PORT_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function checkPort(path: string, value: unknown, fix: string): void {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) {
        throw new HybridInfraConfigError(path, `must be an integer from 1 to 65535, got ${showValue(value)}`, fix);
    }
}

function checkProbe(path: string, probe: HttpProbeArgs | undefined, containerPorts: readonly number[]): void {
    if (probe === undefined) return;
    if (typeof probe.path !== "string" || !probe.path.startsWith("/")) {
        throw new HybridInfraConfigError(`${path}.path`, `must be an absolute URL path, got ${showValue(probe.path)}`, "use a path such as `/healthz`");
    }
    if (probe.port !== undefined) {
        checkPort(`${path}.port`, probe.port, "use one of the app's container ports");
        if (!containerPorts.includes(probe.port)) {
            throw new HybridInfraConfigError(
                `${path}.port`,
                `is not one of the app's container ports (${containerPorts.join(", ")}), got ${showValue(probe.port)}`,
                "probe a port listed in ports, or leave it out to probe the first one",
            );
        }
    }
    for (const key of ["initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"] as const) {
        const v = probe[key];
        if (v !== undefined && (!Number.isInteger(v) || v < (key === "initialDelaySeconds" ? 0 : 1))) {
            throw new HybridInfraConfigError(`${path}.${key}`, `must be a whole number${key === "initialDelaySeconds" ? "" : " of at least 1"}, got ${showValue(v)}`, "use whole seconds (or a count)");
        }
    }
}

/** The port name the plan uses when the user gives none. */
export function defaultPortName(port: AppPortArgs, index: number): string {
    return port.name ?? (index === 0 ? "http" : `port-${port.containerPort}`);
}

interface AppCheckOptions {
    /** Check tunnel exposure against `ctx.cloudflare` (the composition knows it; a lone component does not). */
    readonly checkCloudflare: boolean;
    /** Check placement locations (skipped when the locations are not known). */
    readonly checkLocations: boolean;
}

/** Checks one app; `at` is its config path, e.g. `apps[0]`. */
export function validateApp(app: AppLike, at: string, ctx: AppValidationContext, options: AppCheckOptions): void {
    if (app.appName !== undefined && (typeof app.appName !== "string" || !DNS_LABEL_RE.test(app.appName))) {
        throw new HybridInfraConfigError(`${at}.appName`, `must be a lowercase DNS label (letters, digits, '-'), got ${showValue(app.appName)}`, "use a short name such as `blog`");
    }
    if (app.namespace !== undefined && (typeof app.namespace !== "string" || !DNS_LABEL_RE.test(app.namespace))) {
        throw new HybridInfraConfigError(`${at}.namespace`, `must be a lowercase DNS label, got ${showValue(app.namespace)}`, "use a namespace name such as `default` or `web`");
    }
    if (typeof app.image !== "string" || app.image.trim() === "" || /\s/.test(app.image)) {
        throw new HybridInfraConfigError(`${at}.image`, `must be a container image reference, got ${showValue(app.image)}`, "set an image pinned by tag or digest, e.g. `nginx:1.27`");
    }
    if (app.replicas !== undefined && (typeof app.replicas !== "number" || !Number.isInteger(app.replicas) || app.replicas < 1)) {
        throw new HybridInfraConfigError(`${at}.replicas`, `must be an integer of at least 1, got ${showValue(app.replicas)}`, "set replicas to 1 or more (2 or more to keep serving while a site is down)");
    }
    if (app.replicas !== undefined && app.replicas > MAX_REPLICAS) {
        throw new HybridInfraConfigError(
            `${at}.replicas`,
            `is more than ${MAX_REPLICAS}, got ${showValue(app.replicas)} (kubelet runs at most 110 pods per node, and a cluster of a few machines leaves such a count mostly Pending)`,
            REPLICAS_FIX,
        );
    }
    const ports = app.ports ?? [];
    if (!Array.isArray(ports) || ports.length === 0) {
        throw new HybridInfraConfigError(`${at}.ports`, `must list at least one port, got ${showValue(app.ports)}`, "add the port the container listens on, e.g. `[{ containerPort: 8080 }]`");
    }
    const portNames = new Map<string, number>();
    const containerPorts = new Map<number, number>();
    ports.forEach((p, i) => {
        const pat = `${at}.ports[${i}]`;
        checkPort(`${pat}.containerPort`, p.containerPort, "use the port the container listens on");
        if (p.servicePort !== undefined) checkPort(`${pat}.servicePort`, p.servicePort, "use a port from 1 to 65535, or leave it out to reuse the container port");
        const name = defaultPortName(p, i);
        if (!PORT_NAME_RE.test(name)) {
            throw new HybridInfraConfigError(`${pat}.name`, `must be a lowercase name of at most 15 characters, got ${showValue(name)}`, "use a short name such as `http` or `metrics`");
        }
        if (portNames.has(name)) {
            throw new HybridInfraConfigError(`${pat}.name`, `duplicates ${at}.ports[${portNames.get(name)}].name ${showValue(name)}`, "give every port a unique name");
        }
        portNames.set(name, i);
        if (containerPorts.has(p.containerPort)) {
            throw new HybridInfraConfigError(`${pat}.containerPort`, `duplicates ${at}.ports[${containerPorts.get(p.containerPort)}].containerPort ${showValue(p.containerPort)}`, "list every container port once");
        }
        containerPorts.set(p.containerPort, i);
    });
    const hostnames = app.hostnames ?? [];
    if (!Array.isArray(hostnames) || hostnames.length === 0) {
        throw new HybridInfraConfigError(`${at}.hostnames`, `must list at least one hostname, got ${showValue(app.hostnames)}`, "add the public name of the app, e.g. `[\"blog.example.com\"]`");
    }
    hostnames.forEach((h, i) => {
        if (!isValidHostname(h)) {
            throw new HybridInfraConfigError(`${at}.hostnames[${i}]`, `is not a valid DNS hostname, got ${showValue(h)}`, "use a lowercase fully qualified name such as `app.example.com`");
        }
        if (h.startsWith("*.") && app.exposure === Exposure.Tunnel) {
            throw new HybridInfraConfigError(`${at}.hostnames[${i}]`, `is a wildcard, which a tunnel DNS record cannot publish, got ${showValue(h)}`, "list each hostname, or use exposure \"ingress\"");
        }
        const first = hostnames.indexOf(h);
        if (first !== i) {
            throw new HybridInfraConfigError(`${at}.hostnames[${i}]`, `duplicates ${at}.hostnames[${first}] ${showValue(h)}`, "list every hostname once");
        }
    });
    (app.paths ?? []).forEach((p, i) => {
        if (typeof p !== "string" || !p.startsWith("/") || /\s/.test(p)) {
            throw new HybridInfraConfigError(`${at}.paths[${i}]`, `must be an absolute URL path prefix, got ${showValue(p)}`, "use a prefix such as `/` or `/api`");
        }
    });
    for (const [key, env] of [["env", app.env], ["secretEnv", app.secretEnv]] as const) {
        for (const name of Object.keys(env ?? {})) {
            if (!ENV_NAME_RE.test(name)) {
                throw new HybridInfraConfigError(`${at}.${key}.${name}`, `is not a valid environment variable name, got ${showValue(name)}`, "use letters, digits and '_' (not starting with a digit)");
            }
        }
    }
    for (const name of Object.keys(app.secretEnv ?? {})) {
        if (app.env !== undefined && name in app.env) {
            throw new HybridInfraConfigError(`${at}.secretEnv.${name}`, `is also set in ${at}.env`, "set each variable in env or in secretEnv, not both");
        }
    }
    checkProbe(`${at}.livenessProbe`, app.livenessProbe, [...containerPorts.keys()]);
    checkProbe(`${at}.readinessProbe`, app.readinessProbe, [...containerPorts.keys()]);
    const exposures: readonly string[] = Object.values(Exposure);
    if (app.exposure !== undefined && !exposures.includes(app.exposure)) {
        throw new HybridInfraConfigError(`${at}.exposure`, `must be one of ${exposures.join(", ")}, got ${showValue(app.exposure)}`, "use \"ingress\" (Traefik) or \"tunnel\" (Cloudflare Tunnel)");
    }
    if (app.exposure === Exposure.Tunnel && options.checkCloudflare) {
        const missing = [
            ...(ctx.cloudflare?.accountId ? [] : ["cloudflare.accountId"]),
            ...(ctx.cloudflare?.zoneId ? [] : ["cloudflare.zoneId"]),
        ];
        if (missing.length > 0) {
            throw new HybridInfraConfigError(
                `${at}.exposure`,
                `is "tunnel" but the Cloudflare ${missing.length === 2 ? "account and zone are" : missing[0] === "cloudflare.accountId" ? "account is" : "zone is"} not configured (missing ${missing.join(" and ")})`,
                `set ${missing.join(" and ")} in the stack config, or use exposure "ingress"`,
            );
        }
    }
    const tlsModes: readonly string[] = Object.values(TlsMode);
    if (app.tls !== undefined) {
        if (!tlsModes.includes(app.tls.mode)) {
            throw new HybridInfraConfigError(`${at}.tls.mode`, `must be one of ${tlsModes.join(", ")}, got ${showValue(app.tls.mode)}`, "pick a TLS mode, or leave tls out for plain HTTP");
        }
        if (app.tls.secretName !== undefined && !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(app.tls.secretName)) {
            throw new HybridInfraConfigError(`${at}.tls.secretName`, `is not a valid Secret name, got ${showValue(app.tls.secretName)}`, "use a lowercase name such as `blog-tls`");
        }
        if (app.tls.mode === TlsMode.ExistingSecret && app.tls.secretName === undefined) {
            throw new HybridInfraConfigError(`${at}.tls.secretName`, "is required with mode \"existing-secret\", got nothing (the key is missing)", "name the kubernetes.io/tls Secret in the app's namespace");
        }
        if ((app.tls.caCertPem === undefined) !== (app.tls.caPrivateKeyPem === undefined)) {
            throw new HybridInfraConfigError(`${at}.tls`, "sets only one of caCertPem and caPrivateKeyPem", "give both (e.g. from a PrivateCa), or neither to make a CA for this app");
        }
        if (app.tls.issuerName !== undefined && app.tls.mode !== TlsMode.CertManager) {
            throw new HybridInfraConfigError(`${at}.tls.issuerName`, `is set, but tls.mode is ${showValue(app.tls.mode)}: only mode "cert-manager" uses an issuer`, "remove tls.issuerName, or set tls.mode: cert-manager");
        }
        if (typeof app.tls.issuerName === "string" && !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(app.tls.issuerName)) {
            throw new HybridInfraConfigError(`${at}.tls.issuerName`, `is not a valid ClusterIssuer name, got ${showValue(app.tls.issuerName)}`, "use the lowercase name of a ClusterIssuer, such as `letsencrypt`");
        }
        if (app.tls.mode === TlsMode.CloudflareOriginCa && options.checkCloudflare && !ctx.cloudflare?.zoneId) {
            throw new HybridInfraConfigError(`${at}.tls.mode`, "is \"cloudflare-origin-ca\" but the Cloudflare zone is not configured (missing cloudflare.zoneId)", "set cloudflare.zoneId in the stack config, or use another TLS mode");
        }
    }
    const placement = app.placement;
    if (placement?.arch !== undefined && !/^[a-z0-9]+$/.test(placement.arch)) {
        throw new HybridInfraConfigError(`${at}.placement.arch`, `must be a kubernetes.io/arch value such as amd64 or arm64, got ${showValue(placement.arch)}`, "use amd64, arm64, arm or riscv64");
    }
    for (const [k, v] of Object.entries(placement?.labels ?? {})) {
        if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/.test(k) || !/^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/.test(v)) {
            throw new HybridInfraConfigError(`${at}.placement.labels`, `has an invalid Kubernetes label ${showValue(`${k}=${v}`)}`, "use label keys and values made of letters, digits, '-', '_' and '.'");
        }
    }
    if (options.checkLocations) {
        (placement?.locations ?? []).forEach((loc, i) => {
            if (!ctx.knownLocations.includes(loc)) {
                const known = [...new Set(ctx.knownLocations)].sort();
                const guess = nearest(loc, known);
                throw new HybridInfraConfigError(
                    `${at}.placement.locations[${i}]`,
                    `names location ${showValue(loc)}, which no host has (known: ${known.length > 0 ? known.join(", ") : "none"})`,
                    guess !== undefined ? `did you mean ${showValue(guess)}? Use a location of one of the hosts` : "use a location of one of the hosts, or add a host in that location",
                );
            }
        });
    }
}

/**
 * Validates the apps of a stack before any resource is registered: each app on its own, then hostnames
 * across apps (one hostname, one app: a second DNS record or tunnel route for it would fight the first).
 * @param path config path of the list, used in messages
 */
export function validateApps(apps: readonly AppLike[], ctx: AppValidationContext, path = "apps"): void {
    const seen = new Map<string, string>();
    apps.forEach((app, i) => {
        const at = `${path}[${i}]`;
        validateApp(app, at, ctx, { checkCloudflare: true, checkLocations: true });
        (app.hostnames ?? []).forEach((h, j) => {
            const first = seen.get(h);
            if (first !== undefined) {
                throw new HybridInfraConfigError(`${at}.hostnames[${j}]`, `duplicates ${first} ${showValue(h)}`, "serve each hostname from one app");
            }
            seen.set(h, `${at}.hostnames[${j}]`);
        });
    });
}
