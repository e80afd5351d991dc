/**
 * The Pulumi program: read and validate the stack config, compose a HybridCluster, return the outputs.
 * `infra/index.ts` exports these for `pulumi up`; the offline render, the tests and the benchmark call
 * `runProgram` in-process under the mock engine.
 */
import * as pulumi from "@pulumi/pulumi";
import {
    ClusterAppArgs,
    ClusterHostArgs,
    ClusterPlan,
    planCluster,
    withDeployedHosts,
    DATASTORE_ENDPOINT_FIX,
    datastoreEndpointProblem,
    HybridCluster,
    HybridClusterArgs,
    HybridInfraConfigErrors,
    K3S_SETTINGS_OUTPUT,
    k3sChangeProblems,
    K3sRecordedSettings,
    recordK3sSettings,
    throwAll,
    validatePrivateKey,
    HybridInfraConfigError,
    CLUSTER_HOSTS_OUTPUT,
    hostsInCluster,
    vanishedHostProblems,
} from "@hybridinfra/components";
import { k3sArgsFromConfig } from "./backup";
import { ClusterConfig, ConfigValidationError, parseClusterConfig } from "./config";
import { PROJECT } from "./project";

/**
 * Reads a secret config key synchronously, so it can be validated before any resource is registered, and
 * returns it wrapped as a secret. Secret config values are decrypted by the engine before the program runs.
 */
function readSecret(key: string, required: { why: string; how: string } | undefined): pulumi.Output<string> | undefined {
    const value = pulumi.runtime.getConfig(`${PROJECT}:${key}`);
    if (value === undefined || value === "") {
        if (required) throw new HybridInfraConfigError(key, `is not set; it is needed ${required.why}`, `run \`${required.how}\``);
        return undefined;
    }
    return pulumi.secret(value);
}

function rawSecret(key: string): string | undefined {
    return pulumi.runtime.getConfig(`${PROJECT}:${key}`);
}

/** Maps the validated config to HybridCluster args, reading each secret from its own config key. */
export function clusterArgsFromConfig(cfg: ClusterConfig): HybridClusterArgs {
    const sshKey = rawSecret("sshPrivateKey");
    if (sshKey === undefined || sshKey === "") {
        throw new HybridInfraConfigError("sshPrivateKey", "is not set; every host step connects over SSH with it", "run `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`");
    }
    validatePrivateKey("sshPrivateKey", sshKey);
    const hosts: ClusterHostArgs[] = cfg.hosts.map((h, i) => {
        let privateKey: pulumi.Output<string> | undefined;
        if (h.ssh.privateKeyConfig !== undefined) {
            const k = rawSecret(h.ssh.privateKeyConfig);
            if (k === undefined || k === "") {
                throw new HybridInfraConfigError(
                    `hosts[${i}].ssh.privateKeyConfig`,
                    `names the config key ${JSON.stringify(h.ssh.privateKeyConfig)}, which is not set`,
                    `run \`pulumi config set --secret ${h.ssh.privateKeyConfig} < <key file>\``,
                );
            }
            validatePrivateKey(`${h.ssh.privateKeyConfig}`, k);
            privateKey = pulumi.secret(k);
        }
        const { privateKeyConfig: _unused, ...ssh } = h.ssh;
        return { ...h, ssh: { ...ssh, ...(privateKey !== undefined ? { privateKey } : {}) } };
    });
    const apps: ClusterAppArgs[] = (cfg.apps ?? []).map((a, i) => {
        const secretEnv: Record<string, pulumi.Input<string>> = {};
        for (const [env, key] of Object.entries(a.secretEnv ?? {})) {
            const v = readSecret(key, { why: `by apps[${i}].secretEnv.${env}`, how: `pulumi config set --secret ${key} <value>` });
            secretEnv[env] = v!;
        }
        return { ...a, ...(a.secretEnv !== undefined ? { secretEnv } : {}) };
    });
    if (cfg.k3s?.datastore === "external") {
        // Checked here, where the secret is still text; its value is never shown.
        const endpoint = rawSecret("datastoreEndpoint");
        const problem = endpoint !== undefined && endpoint !== "" ? datastoreEndpointProblem(endpoint) : undefined;
        if (problem !== undefined) throw new HybridInfraConfigError("datastoreEndpoint", `${problem} (the value is a secret and is not shown)`, DATASTORE_ENDPOINT_FIX);
    }
    const overlayKind = cfg.overlay?.kind ?? "wireguard";
    const tunnel = cfg.ingress?.mode === "cloudflare-tunnel";
    const external = cfg.k3s?.datastore === "external";
    return {
        ...cfg,
        ...(cfg.k3s !== undefined ? { k3s: k3sArgsFromConfig(cfg.k3s, rawSecret) } : {}),
        hosts,
        apps,
        sshPrivateKey: pulumi.secret(sshKey),
        ...(overlayKind === "tailscale"
            ? { tailscaleAuthKey: readSecret("tailscaleAuthKey", { why: "for hosts to join the tailnet (overlay.kind tailscale)", how: "pulumi config set --secret tailscaleAuthKey <reusable auth key>" }) }
            : {}),
        ...(external
            ? { datastoreEndpoint: readSecret("datastoreEndpoint", { why: "by k3s.datastore external", how: "pulumi config set --secret datastoreEndpoint 'mysql://user:pass@tcp(host:3306)/k3s'" }) }
            : {}),
        ...(tunnel
            ? { cloudflareApiToken: readSecret("cloudflareApiToken", { why: "by ingress.mode cloudflare-tunnel", how: "pulumi config set --secret cloudflareApiToken <token with Tunnel:Edit and DNS:Edit>" }) }
            : {}),
    };
}

export interface ProgramOutputs {
    kubeconfig: pulumi.Output<string>;
    apiEndpoint: pulumi.Output<string>;
    overlayAddresses: pulumi.Output<Record<string, string>>;
    appUrls: pulumi.Output<Record<string, string[]>>;
    failoverBoundSeconds: pulumi.Output<number>;
    certificateExpiry: pulumi.Output<Record<string, string>>;
    /** The wg-quick config of each operator peer (overlay.operators), by name. Secret. */
    operatorConfigs: pulumi.Output<Record<string, string>>;
    /** What the next run compares with (`K3S_SETTINGS_OUTPUT`): see `main`. */
    k3sSettings: pulumi.Output<K3sRecordedSettings>;
    /** The hosts in the cluster after this run (`CLUSTER_HOSTS_OUTPUT`): the next run refuses one gone without `remove: true`. */
    clusterHosts: pulumi.Output<string[]>;
}

export interface ProgramResult {
    readonly outputs: ProgramOutputs;
    /** The composed cluster, for in-process callers (tests, lab, benchmark) that inspect its plan. */
    readonly cluster: HybridCluster;
}

function readClusterConfig(): ClusterConfig {
    return parseClusterConfig(new pulumi.Config(PROJECT).requireObject("cluster"));
}

function composeProgram(args: HybridClusterArgs, settings: K3sRecordedSettings, hosts: string[], plan: ClusterPlan): ProgramResult {
    // The plan made once for this run (settings, checks) is handed down: the cluster does not plan again.
    const cluster = new HybridCluster(pulumi.getStack(), args, undefined, plan);
    return {
        cluster,
        outputs: {
            kubeconfig: cluster.kubeconfig,
            apiEndpoint: cluster.apiEndpoint,
            overlayAddresses: cluster.overlayAddresses,
            appUrls: cluster.appUrls,
            failoverBoundSeconds: cluster.failoverBoundSeconds,
            certificateExpiry: cluster.certificateExpiry,
            operatorConfigs: cluster.operatorConfigs,
            k3sSettings: pulumi.output(settings),
            clusterHosts: pulumi.output(hosts),
        },
    };
}

/** The program without the comparison with the previous run (offline render, mock-engine tests, benchmark). */
export function runProgram(): ProgramResult {
    const args = clusterArgsFromConfig(readClusterConfig());
    const plan = planCluster(args);
    return composeProgram(args, recordK3sSettings(plan.k3s), hostsInCluster(args.hosts), plan);
}

/**
 * This stack's own outputs `names` as the last successful `pulumi up` left them, read through one
 * StackReference to the stack itself (`<org>/<project>/<stack>`; the local file backend's org is
 * `organization`). Both `pulumi preview` and `pulumi up` see the previous deployment's values (an update
 * writes the stack's outputs only when it succeeds); undefined before the first `up` and after `pulumi destroy`.
 */
export async function previousStackOutputs(names: readonly string[]): Promise<Record<string, unknown>> {
    const self = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`);
    const values = await Promise.all(names.map(async (n) => {
        const details = await self.getOutputDetails(n);
        return [n, details.value ?? details.secretValue] as const;
    }));
    return Object.fromEntries(values);
}

/**
 * Refuses every change the running cluster does not support in place, all at once: compares the settings
 * this config deploys (`recordK3sSettings` of the plan) with the `k3sSettings` output of the last `pulumi up`,
 * and its hosts with that run's `clusterHosts` (a host gone without a `remove: true` run).
 */
export function previousRunProblems(previous: Record<string, unknown>, cfg: ClusterConfig, args: HybridClusterArgs, settings: K3sRecordedSettings): HybridInfraConfigError[] {
    return [
        ...vanishedHostProblems(previous[CLUSTER_HOSTS_OUTPUT], args.hosts),
        ...k3sChangeProblems(previous[K3S_SETTINGS_OUTPUT], settings, { ...(cfg.k3s?.allowDowngrade !== undefined ? { allowDowngrade: cfg.k3s.allowDowngrade } : {}) }),
    ];
}

/**
 * The program `pulumi up` runs (`infra/index.ts`): validates the config, refuses unsupported k3s changes
 * (`previousRunProblems`) before any resource but that read is registered, so `pulumi preview` already fails and
 * no host step runs, then composes the cluster (`compose`; the real-engine test passes one that registers
 * nothing, as the command plugin cannot be built here). A config error is shown as its message alone (a
 * pulumi.RunError), without a stack trace.
 */
export async function main<T = ProgramOutputs>(
    compose: (args: HybridClusterArgs, settings: K3sRecordedSettings, hosts: string[], plan: ClusterPlan) => T = (args, settings, hosts, plan) => composeProgram(args, settings, hosts, plan).outputs as T,
): Promise<T> {
    try {
        const cfg = readClusterConfig();
        const configured = clusterArgsFromConfig(cfg);
        // Planned once, before anything is registered (a bad config registers nothing, not even the read below):
        // the settings to record and compare come from this plan, and the cluster is registered from it.
        const planned = planCluster(configured);
        const settings = recordK3sSettings(planned.k3s);
        const previous = await previousStackOutputs([K3S_SETTINGS_OUTPUT, CLUSTER_HOSTS_OUTPUT]);
        throwAll(previousRunProblems(previous, cfg, configured, settings));
        const recorded = previous[CLUSTER_HOSTS_OUTPUT];
        // The hosts the cluster already runs on roll in batches on an upgrade; new ones join in parallel.
        const deployedHosts = Array.isArray(recorded) ? recorded.filter((h): h is string => typeof h === "string") : [];
        const args = { ...configured, deployedHosts };
        return compose(args, settings, hostsInCluster(args.hosts), withDeployedHosts(planned, deployedHosts));
    } catch (e) {
        if (e instanceof HybridInfraConfigError || e instanceof HybridInfraConfigErrors || e instanceof ConfigValidationError) throw new pulumi.RunError(e.message);
        throw e;
    }
}
