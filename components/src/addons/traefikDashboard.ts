import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { requireKubernetesProvider } from "../kube/provider";
import { standardLabels } from "../kube/labels";
import { DASHBOARD_AUTH_NAME, TRAEFIK_CHART_CONFIG, traefikDashboardValues, validateTraefikDashboard } from "./plan";
import { compact } from "../util/compact";

export interface TraefikDashboardArgs {
    /**
     * Publish the dashboard on this hostname (websecure entry point, basic auth).
     * @default not published: reach it with `kubectl -n kube-system port-forward deploy/traefik 8080` at /dashboard/
     */
    readonly hostname?: string;
    /**
     * Basic-auth user when published.
     * @default "admin"
     */
    readonly username?: string;
}

/**
 * Turns on the dashboard of k3s's bundled Traefik through a HelmChartConfig (k3s's way to set values of
 * a packaged chart; k3s reads one named `traefik` in kube-system, so a user-made one must be merged into this).
 * Needs the cluster's kubernetes provider.
 */
export class TraefikDashboard extends pulumi.ComponentResource {
    /** The dashboard URL, or "" when it is not published. */
    public readonly url: pulumi.Output<string>;
    public readonly username: pulumi.Output<string>;
    /** Basic-auth password (secret), or "" when the dashboard is not published. */
    public readonly password: pulumi.Output<string>;

    constructor(name: string, args: TraefikDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
        validateTraefikDashboard(args);
        requireKubernetesProvider(opts, "TraefikDashboard", name);
        super("hybridinfra:index:TraefikDashboard", name, {}, opts);
        const username = args.username ?? "admin";
        const labels = standardLabels("traefik-dashboard", "dashboard");
        const dependsOn: pulumi.Resource[] = [];
        let password: pulumi.Output<string> = pulumi.output("");
        if (args.hostname !== undefined) {
            const pw = new random.RandomPassword(`${name}-password`, { length: 24, special: false }, { parent: this });
            password = pulumi.secret(pw.result);
            const auth = new k8s.core.v1.Secret(
                `${name}-auth`,
                // Traefik's basicAuth reads htpasswd lines; bcrypt is one of the formats it accepts.
                { metadata: { name: DASHBOARD_AUTH_NAME, namespace: "kube-system", labels }, type: "Opaque", stringData: pulumi.secret(pw.bcryptHash.apply((h) => ({ users: `${username}:${h}` }))) },
                { parent: this },
            );
            const middleware = new k8s.apiextensions.CustomResource(
                `${name}-auth-middleware`,
                { apiVersion: "traefik.io/v1alpha1", kind: "Middleware", metadata: { name: DASHBOARD_AUTH_NAME, namespace: "kube-system", labels }, spec: { basicAuth: { secret: DASHBOARD_AUTH_NAME } } },
                { parent: this, dependsOn: [auth] },
            );
            dependsOn.push(middleware);
        }
        new k8s.apiextensions.CustomResource(
            `${name}-chart-config`,
            {
                apiVersion: "helm.cattle.io/v1",
                kind: "HelmChartConfig",
                metadata: { name: TRAEFIK_CHART_CONFIG, namespace: "kube-system", labels },
                spec: { valuesContent: JSON.stringify(traefikDashboardValues({ ...compact({ hostname: args.hostname }), username }), null, 2) },
            },
            { parent: this, dependsOn },
        );
        this.url = pulumi.output(args.hostname !== undefined ? `https://${args.hostname}/dashboard/` : "");
        this.username = pulumi.output(username);
        this.password = password;
        this.registerOutputs({ url: this.url, username: this.username, password: this.password });
    }
}
