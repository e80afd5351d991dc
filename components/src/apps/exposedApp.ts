import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { getInternals, setInternals } from "../util/internals";
import { DEFAULT_CLUSTER_ISSUER } from "../kube/certManager";
import { requireKubernetesProvider } from "../kube/provider";
import { issueOriginCaCert } from "../pki/originCa";
import { issuePrivateCaLeaf, IssuedCert, PrivateCa, privateCaInternals } from "../pki/tls";
import { Exposure, TlsMode } from "./model";
import type { ExposedAppArgs } from "./model";
import { AppPlan, appUrls, certificateSpec, deploymentSpec, ingressAnnotations, ingressSpec, pdbSpec, planApp, PlannedTunnelRoute, routedPort, serviceSpec, tunnelRoutesFor } from "./plan";
import { validateApp } from "./validate";
import { compact } from "../util/compact";

/** What the composition needs from an app (e.g. to build one `CloudflareTunnel` for all tunnel apps). */
export interface ExposedAppInternals {
    readonly plan: AppPlan;
    readonly hostnames: readonly string[];
    readonly exposure: Exposure;
    /** The Service port the hostnames are routed to. */
    readonly servicePort: number;
    readonly serviceName: string;
    readonly namespace: string;
    /** Routes for a `CloudflareTunnel` (to Traefik, so the Ingress applies to tunnel traffic too). */
    readonly tunnelRoutes: readonly PlannedTunnelRoute[];
    readonly deployment: k8s.apps.v1.Deployment;
    readonly service: k8s.core.v1.Service;
    readonly ingress: k8s.networking.v1.Ingress;
    readonly pdb?: k8s.policy.v1.PodDisruptionBudget;
    /** The cert-manager `Certificate` (tls mode `cert-manager`). */
    readonly certificate?: k8s.apiextensions.CustomResource;
    /** When the certificate Pulumi issued expires (RFC 3339): private-ca and cloudflare-origin-ca only. */
    readonly certificateExpiry?: pulumi.Output<string>;
    /** The CA this app made for itself (only in private-ca mode without a shared CA). */
    readonly ownCa?: PrivateCa;
}

/**
 * An app published through k3s's bundled Traefik: Deployment, Service, Ingress, and as needed a Secret for
 * secret env, a TLS Secret and a PodDisruptionBudget. Needs the cluster's kubernetes provider (and, for
 * Cloudflare Origin CA certificates, a Cloudflare provider) through `opts.providers` or a parent.
 */
export class ExposedApp extends pulumi.ComponentResource {
    /** Public URLs: one per hostname and path. */
    public readonly urls: pulumi.Output<string[]>;
    public readonly serviceName: pulumi.Output<string>;
    public readonly namespace: pulumi.Output<string>;

    constructor(name: string, args: ExposedAppArgs, opts?: pulumi.ComponentResourceOptions) {
        validateApp(args, name, { knownLocations: args.knownLocations ?? [] }, { checkCloudflare: false, checkLocations: args.knownLocations !== undefined });
        requireKubernetesProvider(opts, "ExposedApp", name);
        super("hybridinfra:index:ExposedApp", name, {}, opts);
        const plan = planApp(name, args);
        const metadata = (objectName: string) => ({ name: objectName, namespace: plan.namespace, labels: { ...plan.labels } });

        const ns = args.createNamespace
            ? new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: plan.namespace, labels: { "app.kubernetes.io/part-of": "hybridinfra", "app.kubernetes.io/managed-by": "pulumi" } } }, { parent: this })
            : undefined;
        const inNamespace: pulumi.CustomResourceOptions = { parent: this, ...(ns !== undefined ? { dependsOn: [ns] } : {}) };

        const envSecret =
            plan.secretEnvKeys.length > 0
                ? new k8s.core.v1.Secret(
                      `${name}-env`,
                      { metadata: metadata(plan.secretEnvName), type: "Opaque", stringData: pulumi.secret(pulumi.output(args.secretEnv ?? {})) },
                      inNamespace,
                  )
                : undefined;

        let ownCa: PrivateCa | undefined;
        let issued: IssuedCert | undefined;
        switch (plan.tlsMode) {
            case TlsMode.PrivateCa: {
                let caCertPem = args.tls?.caCertPem;
                let caPrivateKeyPem = args.tls?.caPrivateKeyPem;
                if (caCertPem === undefined || caPrivateKeyPem === undefined) {
                    ownCa = new PrivateCa(`${name}-ca`, { commonName: `${plan.appName} private CA` }, { parent: this });
                    caCertPem = privateCaInternals(ownCa).certPem;
                    caPrivateKeyPem = privateCaInternals(ownCa).privateKeyPem;
                }
                issued = issuePrivateCaLeaf(`${name}-tls`, { hostnames: plan.hostnames, caCertPem, caPrivateKeyPem }, { parent: this });
                break;
            }
            case TlsMode.CloudflareOriginCa:
                issued = issueOriginCaCert(`${name}-tls`, plan.hostnames, { parent: this });
                break;
            case TlsMode.CertManager:
            case TlsMode.ExistingSecret:
            case TlsMode.None:
                break;
            default: {
                const never: never = plan.tlsMode;
                throw new Error(`unhandled TLS mode ${String(never)}`);
            }
        }
        const tlsSecret =
            issued !== undefined
                ? new k8s.core.v1.Secret(
                      `${name}-tls`,
                      {
                          metadata: metadata(plan.tlsSecretName!),
                          type: "kubernetes.io/tls",
                          stringData: pulumi.secret(pulumi.all([issued.certPem, issued.privateKeyPem]).apply(([crt, key]) => ({ "tls.crt": crt, "tls.key": key }))),
                      },
                      inNamespace,
                  )
                : undefined;

        // cert-manager writes and renews the Secret; the Ingress names it before it exists (Traefik serves its
        // default certificate until then).
        const certificate =
            plan.tlsMode === TlsMode.CertManager
                ? new k8s.apiextensions.CustomResource(
                      `${name}-certificate`,
                      { apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: metadata(plan.tlsSecretName!), spec: pulumi.output(args.tls?.issuerName ?? DEFAULT_CLUSTER_ISSUER).apply((issuer) => certificateSpec(plan, issuer)) },
                      inNamespace,
                  )
                : undefined;

        const deployment = new k8s.apps.v1.Deployment(
            `${name}-deploy`,
            { metadata: metadata(plan.appName), spec: deploymentSpec(plan) },
            { ...inNamespace, dependsOn: [...(ns !== undefined ? [ns] : []), ...(envSecret !== undefined ? [envSecret] : [])] },
        );
        const service = new k8s.core.v1.Service(`${name}-svc`, { metadata: metadata(plan.appName), spec: serviceSpec(plan) }, inNamespace);
        const ingress = new k8s.networking.v1.Ingress(
            `${name}-ingress`,
            {
                metadata: { ...metadata(plan.appName), annotations: ingressAnnotations(plan) },
                spec: ingressSpec(plan, plan.appName),
            },
            { ...inNamespace, dependsOn: [service, ...(ns !== undefined ? [ns] : []), ...(tlsSecret !== undefined ? [tlsSecret] : [])] },
        );
        const pdbPlan = pdbSpec(plan);
        const pdb = pdbPlan !== undefined ? new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, { metadata: metadata(plan.appName), spec: pdbPlan }, inNamespace) : undefined;

        this.urls = pulumi.output(appUrls(plan));
        this.serviceName = service.metadata.apply((m) => m.name);
        this.namespace = pulumi.output(plan.namespace);
        setInternals<ExposedAppInternals>(this, {
            plan,
            hostnames: plan.hostnames,
            exposure: plan.exposure,
            servicePort: routedPort(plan).servicePort,
            serviceName: plan.appName,
            namespace: plan.namespace,
            tunnelRoutes: plan.exposure === Exposure.Tunnel ? tunnelRoutesFor(plan) : [],
            deployment,
            service,
            ingress,
            ...compact({ pdb, certificate }),
            ...(issued?.expiresAt !== undefined ? { certificateExpiry: issued.expiresAt } : {}),
            ...compact({ ownCa }),
        });
        this.registerOutputs({ urls: this.urls, serviceName: this.serviceName, namespace: this.namespace });
    }
}

export function exposedAppInternals(app: ExposedApp): ExposedAppInternals {
    return getInternals<ExposedAppInternals>(app);
}
