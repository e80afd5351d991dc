/**
 * The lab's Pulumi programs: which hosts the lab stack has, a trivial probe component that proves the
 * runner, and the WireGuard overlay over the lab hosts.
 *
 * How the test process reaches the hosts (the choice, and why): cloud hosts directly at their public
 * address (the test process sits on the lab internet at 203.0.113.254). Home hosts are behind a NAT that
 * accepts no inbound connection, so a cloud node cannot be their jump host (it cannot reach 192.168.50.x,
 * exactly as in real life). Instead the home router forwards one port (203.0.113.1:2211) to home1's sshd,
 * the usual home setup, and the other home hosts use home1 as their jump host (`jumpHost: "home1"`): the
 * runner implements the provider's `connection.proxy` with ssh2 `forwardOut`. Every host key is pinned.
 */
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { connectionFor, remoteStep, secretPlaceholder, SshHostArgs, validateSshHosts, writeFileSnippet } from "../../components/src/host";
import { OverlayPlan, WireGuardHostArgs, WireGuardMesh, wireGuardMeshInternals } from "../../components/src/wireguard";
import { hybridClusterInternals } from "../../components/src/cluster";
import { loadStack } from "../../tools/stack";
import { runStack } from "../../tools/render-lib";
import type { Recording } from "../harness/mocks";
import { labHostState, LabState, readLabState } from "../../lab/lab";
import { ROUTER_PUBLIC, labHost } from "../../lab/topology";

/** The hosts of the lab stack, in stack order (new hosts are appended). */
export function labHosts(includeHome3: boolean, omit: readonly string[] = [], state: LabState = readLabState()): WireGuardHostArgs[] {
    const privateKey = fs.readFileSync(state.clientKeyPath, "utf8");
    const ssh = (name: string) => ({ name, privateKey, hostKey: labHostState(state, name).hostKey });
    const home1 = labHost("home1");
    const hosts: WireGuardHostArgs[] = [
        { ...ssh("cloud1"), address: labHost("cloud1").address, location: "cloud", publicEndpoint: labHost("cloud1").address, hub: true },
        { ...ssh("cloud2"), address: labHost("cloud2").address, location: "cloud", publicEndpoint: labHost("cloud2").address },
        { ...ssh("home1"), address: ROUTER_PUBLIC, port: home1.forwardedSshPort!, location: "home" },
        { ...ssh("home2"), address: labHost("home2").address, jumpHost: "home1", location: "home" },
        ...(includeHome3 ? [{ ...ssh("home3"), address: labHost("home3").address, jumpHost: "home1", location: "home" }] : []),
    ];
    return hosts.filter((h) => !omit.includes(h.name));
}

/**
 * The overlay component's name when the lab stack runs: the HybridCluster is named after the stack (`lab`),
 * its WireGuard mesh `lab-wg`, so steps are `lab-wg-<host>-wg-install` and `-wg-config`.
 */
export const MESH_NAME = "lab-wg";

/** A lab stack run: every host step the stack registers, and the overlay's plan. */
export interface LabStackRun {
    readonly recording: Recording;
    readonly plan: OverlayPlan;
    /** The program's operatorConfigs output (with the harness's deterministic keys): a wg-quick config per operator. */
    readonly operatorConfigs: pulumi.Output<Record<string, string>>;
}

/**
 * The lab stack's config with what only a running lab knows: the generated SSH key (the sshPrivateKey
 * secret) and each host's pinned host key. `includeHome3` appends home3 (the "add a host" change); `omit`
 * drops hosts (the "remove a host" change); `leave` marks hosts `remove: true` (the safe removal); `operators`
 * sets `overlay.operators` (operator peers, by name).
 */
export function labStackConfig(
    includeHome3: boolean,
    omit: readonly string[] = [],
    state: LabState = readLabState(),
    leave: readonly string[] = [],
    operators: readonly string[] = [],
): Record<string, string> {
    const loaded = loadStack("lab");
    const cluster = JSON.parse(loaded.config["hybrid-infra:cluster"]) as { hosts: { name: string; ssh: Record<string, unknown> }[]; overlay: Record<string, unknown> };
    if (operators.length > 0) cluster.overlay.operators = operators.map((name) => ({ name }));
    if (includeHome3) {
        cluster.hosts.push({ name: "home3", ssh: { address: labHost("home3").address, jumpHost: "home1" }, location: "home", roles: ["agent"] } as never);
    }
    cluster.hosts = cluster.hosts.filter((h) => !omit.includes(h.name));
    for (const h of cluster.hosts) h.ssh.hostKey = labHostState(state, h.name).hostKey;
    for (const h of cluster.hosts) if (leave.includes(h.name)) (h as { remove?: boolean }).remove = true;
    return { cluster: JSON.stringify(cluster), sshPrivateKey: fs.readFileSync(state.clientKeyPath, "utf8") };
}

/**
 * Runs the program on the shipped lab stack (stacks/Pulumi.lab.yaml) under the mock engine, as `pulumi up`
 * would, with what only a running lab knows: the generated SSH key (the sshPrivateKey secret) and each
 * host's pinned host key. `includeHome3` appends home3 to the stack's hosts (the "add a host" change);
 * `omit` drops hosts (the "remove a host" change).
 */
export async function runLabStack(
    includeHome3: boolean,
    omit: readonly string[] = [],
    state: LabState = readLabState(),
    leave: readonly string[] = [],
    operators: readonly string[] = [],
): Promise<LabStackRun> {
    const run = await runStack("lab", { extraConfig: labStackConfig(includeHome3, omit, state, leave, operators) });
    const overlay = hybridClusterInternals(run.cluster).overlay as WireGuardMesh;
    return { recording: run.recording, plan: wireGuardMeshInternals(overlay).plan, operatorConfigs: run.outputs.operatorConfigs };
}

export interface LabProbeArgs {
    readonly hosts: SshHostArgs[];
    /** Written into each host's probe file; change one to see exactly one step update. */
    readonly versions: Record<string, string>;
    readonly token: pulumi.Input<string>;
}

export const PROBE_FILE = "/var/lib/hybridinfra/lab-probe";

/**
 * A trivial component that proves the runner (test-only): per host, `probe-write` writes a file holding a
 * secret from stdin, `probe-check` (after it) fails unless the file is there and the hostname is right;
 * cloud1 also gets a `k3s-probe` step, which must be skipped by the explicit k3s rule and never run.
 */
export class LabProbe extends pulumi.ComponentResource {
    constructor(name: string, args: LabProbeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("test:index:LabProbe", name, {}, opts);
        validateSshHosts(args.hosts);
        const byName = new Map(args.hosts.map((h) => [h.name, h]));
        for (const h of args.hosts) {
            const connection = connectionFor(h, byName);
            const write = remoteStep(
                `${name}-${h.name}-probe-write`,
                {
                    host: h.name,
                    step: "probe-write",
                    connection,
                    create: writeFileSnippet(PROBE_FILE, `host=${h.name}\nversion=${args.versions[h.name] ?? "1"}\ntoken=${secretPlaceholder("token")}\n`, "0600"),
                    delete: `hi_remove_managed_file ${PROBE_FILE}`,
                    secrets: { token: args.token },
                },
                { parent: this },
            );
            remoteStep(
                `${name}-${h.name}-probe-check`,
                {
                    host: h.name,
                    step: "probe-check",
                    connection,
                    create: [
                        `[ -f ${PROBE_FILE} ] || hi_fail "${PROBE_FILE} is missing: probe-write has not run before this step"`,
                        `[ "$(hostname)" = ${h.name} ] || hi_fail "connected to $(hostname), expected ${h.name}"`,
                        `hi_log "probe file present on ${h.name}"`,
                    ].join("\n"),
                    delete: `[ -f ${PROBE_FILE} ] || hi_fail "${PROBE_FILE} is already gone: probe-write was deleted before this step"\nhi_log "check removed"`,
                },
                { parent: this, dependsOn: [write] },
            );
            if (h.name === "cloud1") {
                remoteStep(
                    `${name}-${h.name}-k3s-probe`,
                    { host: h.name, step: "k3s-probe", connection, create: 'hi_fail "a k3s step ran in the lab: the skip rule did not apply"' },
                    { parent: this, dependsOn: [write] },
                );
            }
        }
        this.registerOutputs({});
    }
}

export function probeProgram(args: LabProbeArgs): () => LabProbe {
    return () => new LabProbe("probe", args);
}
