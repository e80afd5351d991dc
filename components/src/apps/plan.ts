import type * as k8s from "@pulumi/kubernetes";
import { ARCH_LABEL, REGION_LABEL, selectorLabels, spreadConstraints, standardLabels } from "../kube/labels";
import { defaultPortName } from "./validate";
import { Exposure, TlsMode } from "./model";
import type { ExposedAppArgs, HttpProbeArgs, PlacementArgs, ResourceQuantityArgs } from "./model";
import { compact } from "../util/compact";

type DeploymentSpec = k8s.types.input.apps.v1.DeploymentSpec;
type ServiceSpec = k8s.types.input.core.v1.ServiceSpec;
type IngressSpec = k8s.types.input.networking.v1.IngressSpec;
type PdbSpec = k8s.types.input.policy.v1.PodDisruptionBudgetSpec;
type Affinity = k8s.types.input.core.v1.Affinity;
type Probe = k8s.types.input.core.v1.Probe;
type EnvVar = k8s.types.input.core.v1.EnvVar;

/** k3s's bundled Traefik: its Service in kube-system, the origin of every tunnel route. */
export const TRAEFIK_SERVICE_HOST = "traefik.kube-system.svc.cluster.local";
export const TRAEFIK_INGRESS_CLASS = "traefik";

/** A container port with its defaults filled in. */
export interface PlannedPort {
    readonly name: string;
    readonly containerPort: number;
    readonly servicePort: number;
}

/** Every decision about one app, made from its validated args. Plain data. */
export interface AppPlan {
    readonly appName: string;
    readonly namespace: string;
    readonly image: string;
    readonly replicas: number;
    /** Labels on every object of the app (and its pods). */
    readonly labels: Record<string, string>;
    /** The immutable subset used by selectors. */
    readonly selector: Record<string, string>;
    readonly ports: readonly PlannedPort[];
    readonly hostnames: readonly string[];
    readonly paths: readonly string[];
    readonly env: Record<string, string>;
    /** Names of the secret environment variables (their values live in `secretEnvName`). */
    readonly secretEnvKeys: readonly string[];
    readonly secretEnvName: string;
    readonly tlsMode: TlsMode;
    /** The `kubernetes.io/tls` Secret the Ingress uses, when TLS is on. */
    readonly tlsSecretName?: string;
    readonly exposure: Exposure;
    readonly spreadAcrossLocations: boolean;
    readonly placement?: PlacementArgs;
    readonly resources?: ExposedAppArgs["resources"];
    readonly livenessProbe?: HttpProbeArgs;
    readonly readinessProbe?: HttpProbeArgs;
}

/** A cert-manager `Certificate` spec (cert-manager.io/v1) for the app's hostnames, into its TLS Secret. */
export function certificateSpec(plan: AppPlan, issuerName: string): { secretName: string; dnsNames: string[]; issuerRef: { name: string; kind: string; group: string } } {
    return { secretName: plan.tlsSecretName!, dnsNames: [...plan.hostnames], issuerRef: { name: issuerName, kind: "ClusterIssuer", group: "cert-manager.io" } };
}

export function planApp(name: string, args: ExposedAppArgs): AppPlan {
    const appName = args.appName ?? name;
    const labels = standardLabels(appName, "web");
    const tlsMode = args.tls?.mode ?? TlsMode.None;
    return {
        appName,
        namespace: args.namespace ?? "default",
        image: args.image,
        replicas: args.replicas ?? 1,
        labels,
        selector: selectorLabels(labels),
        ports: args.ports.map((p, i) => ({ name: defaultPortName(p, i), containerPort: p.containerPort, servicePort: p.servicePort ?? p.containerPort })),
        hostnames: [...args.hostnames],
        paths: [...(args.paths ?? ["/"])],
        env: { ...(args.env ?? {}) },
        secretEnvKeys: Object.keys(args.secretEnv ?? {}).sort(),
        secretEnvName: `${appName}-env`,
        tlsMode,
        ...(tlsMode !== TlsMode.None ? { tlsSecretName: args.tls?.secretName ?? `${appName}-tls` } : {}),
        exposure: args.exposure ?? Exposure.Ingress,
        spreadAcrossLocations: args.spreadAcrossLocations ?? true,
        ...compact({ placement: args.placement, resources: args.resources, livenessProbe: args.livenessProbe, readinessProbe: args.readinessProbe }),
    };
}

/** The public URLs: https when the origin has TLS or Cloudflare's edge terminates it (tunnel). */
export function appUrls(plan: AppPlan): string[] {
    const scheme = plan.tlsMode !== TlsMode.None || plan.exposure === Exposure.Tunnel ? "https" : "http";
    return plan.hostnames.flatMap((h) => plan.paths.map((p) => `${scheme}://${h}${p}`));
}

/** Required node affinity for a placement; undefined when the pods may run anywhere. */
export function nodeAffinityFor(placement: PlacementArgs | undefined): Affinity | undefined {
    const expressions: { key: string; operator: string; values: string[] }[] = [];
    if (placement?.locations !== undefined && placement.locations.length > 0) {
        expressions.push({ key: REGION_LABEL, operator: "In", values: [...new Set(placement.locations)].sort() });
    }
    if (placement?.arch !== undefined) expressions.push({ key: ARCH_LABEL, operator: "In", values: [placement.arch] });
    for (const key of Object.keys(placement?.labels ?? {}).sort()) {
        expressions.push({ key, operator: "In", values: [placement!.labels![key]] });
    }
    if (expressions.length === 0) return undefined;
    return { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: expressions }] } } };
}

function quantities(q: ResourceQuantityArgs | undefined): Record<string, string> | undefined {
    if (q === undefined) return undefined;
    const out: Record<string, string> = {};
    if (q.cpu !== undefined) out.cpu = q.cpu;
    if (q.memory !== undefined) out.memory = q.memory;
    return Object.keys(out).length > 0 ? out : undefined;
}

function probeFor(probe: HttpProbeArgs | undefined, plan: AppPlan): Probe | undefined {
    if (probe === undefined) return undefined;
    const port = plan.ports.find((p) => p.containerPort === (probe.port ?? plan.ports[0].containerPort))!;
    return {
        httpGet: { path: probe.path, port: port.name },
        initialDelaySeconds: probe.initialDelaySeconds ?? 0,
        periodSeconds: probe.periodSeconds ?? 10,
        timeoutSeconds: probe.timeoutSeconds ?? 1,
        failureThreshold: probe.failureThreshold ?? 3,
    };
}

function envFor(plan: AppPlan): EnvVar[] {
    return [
        ...Object.keys(plan.env)
            .sort()
            .map((name) => ({ name, value: plan.env[name] })),
        ...plan.secretEnvKeys.map((name) => ({ name, valueFrom: { secretKeyRef: { name: plan.secretEnvName, key: name } } })),
    ];
}

export function deploymentSpec(plan: AppPlan): DeploymentSpec {
    const affinity = nodeAffinityFor(plan.placement);
    const requests = quantities(plan.resources?.requests);
    const limits = quantities(plan.resources?.limits);
    const liveness = probeFor(plan.livenessProbe, plan);
    const readiness = probeFor(plan.readinessProbe, plan);
    const env = envFor(plan);
    return {
        replicas: plan.replicas,
        selector: { matchLabels: { ...plan.selector } },
        // With several replicas, never drop below the wanted count during a rollout.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: plan.replicas > 1 ? 0 : 1 } },
        template: {
            metadata: { labels: { ...plan.labels } },
            spec: {
                ...compact({ affinity }),
                ...(plan.spreadAcrossLocations ? { topologySpreadConstraints: spreadConstraints(plan.selector) } : {}),
                containers: [
                    {
                        name: plan.appName,
                        image: plan.image,
                        ports: plan.ports.map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: "TCP" })),
                        ...(env.length > 0 ? { env } : {}),
                        ...(requests !== undefined || limits !== undefined
                            ? { resources: compact({ requests, limits }) }
                            : {}),
                        ...compact({ livenessProbe: liveness, readinessProbe: readiness }),
                    },
                ],
            },
        },
    };
}

export function serviceSpec(plan: AppPlan): ServiceSpec {
    return {
        type: "ClusterIP",
        selector: { ...plan.selector },
        ports: plan.ports.map((p) => ({ name: p.name, port: p.servicePort, targetPort: p.name, protocol: "TCP" })),
    };
}

/** The Service port the hostnames are routed to (the first port). */
export function routedPort(plan: AppPlan): PlannedPort {
    return plan.ports[0];
}

/** Traefik annotations: a TLS app's router only listens on websecure, so plain HTTP gets no route. */
export function ingressAnnotations(plan: AppPlan): Record<string, string> {
    return plan.tlsSecretName !== undefined
        ? { "traefik.ingress.kubernetes.io/router.entrypoints": "websecure", "traefik.ingress.kubernetes.io/router.tls": "true" }
        : { "traefik.ingress.kubernetes.io/router.entrypoints": "web" };
}

export function ingressSpec(plan: AppPlan, serviceName: string): IngressSpec {
    const port = routedPort(plan);
    return {
        ingressClassName: TRAEFIK_INGRESS_CLASS,
        rules: plan.hostnames.map((host) => ({
            host,
            http: {
                paths: plan.paths.map((path) => ({ path, pathType: "Prefix", backend: { service: { name: serviceName, port: { number: port.servicePort } } } })),
            },
        })),
        ...(plan.tlsSecretName !== undefined ? { tls: [{ hosts: [...plan.hostnames], secretName: plan.tlsSecretName }] } : {}),
    };
}

/** Only with several replicas: a PDB with minAvailable 1 on a single replica would block every node drain. */
export function pdbSpec(plan: AppPlan): PdbSpec | undefined {
    if (plan.replicas <= 1) return undefined;
    return { minAvailable: 1, selector: { matchLabels: { ...plan.selector } } };
}

/** A route a `CloudflareTunnel` needs for one hostname (see `TunnelRouteArgs`). */
export interface PlannedTunnelRoute {
    readonly hostname: string;
    readonly service: string;
    readonly originServerName?: string;
    readonly noTlsVerify?: boolean;
}

/**
 * Tunnel routes go to Traefik, so that the app's Ingress (paths, TLS) applies to tunnel traffic too.
 * A TLS app only has a websecure router, so the tunnel speaks HTTPS to Traefik with the hostname as SNI.
 * cloudflared trusts Cloudflare's Origin CA but not a private CA, and this hop never leaves the cluster,
 * so verification is off only for private-CA and existing-secret certificates.
 */
export function tunnelRoutesFor(plan: AppPlan): PlannedTunnelRoute[] {
    return plan.hostnames.map((hostname) => {
        if (plan.tlsMode === TlsMode.None) return { hostname, service: `http://${TRAEFIK_SERVICE_HOST}:80` };
        return {
            hostname,
            service: `https://${TRAEFIK_SERVICE_HOST}:443`,
            originServerName: hostname,
            // cloudflared trusts Cloudflare's Origin CA and public CAs (cert-manager's ACME certificates).
            ...(plan.tlsMode !== TlsMode.CloudflareOriginCa && plan.tlsMode !== TlsMode.CertManager ? { noTlsVerify: true } : {}),
        };
    });
}
