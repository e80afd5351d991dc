/**
 * Benchmark library: runs the cluster program (or the bare-SDK baseline) under the recording mock engine
 * and measures the structure of what it registers: the critical path of host steps, the blast radius of a
 * change, and the rendered bytes per host. Used by `npm run bench` (bench/run.ts) and by the untimed
 * structural test (tests/bench/).
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import * as k8s from "@pulumi/kubernetes";
import * as cloudflare from "@pulumi/cloudflare";
import { record, Recording, RecordedResource } from "../tests/harness/mocks";
import { RENDER_CALLS, RENDER_OUTPUTS, customDependencies, stepIdentity } from "../tools/render-lib";
import { runProgram } from "../infra/program";
import { PROJECT } from "../tools/stack";
import type { ClusterConfig } from "../infra/config";
import { stackConfig } from "./generate";

export const CMD = "command:remote:Command";

/** Runs the whole program (config parsing, validation, every component) for a cluster under the mock engine. */
export async function runCluster(cluster: ClusterConfig): Promise<Recording> {
    const { config, secretKeys } = stackConfig(cluster);
    return record(() => runProgram().outputs, { config, secretKeys, project: PROJECT, stack: "bench", outputs: RENDER_OUTPUTS, calls: RENDER_CALLS });
}

// ---------------------------------------------------------------------------------------------------------
// Baseline: the bare SDK registering the same resources with trivial inputs.

/** One resource of a recording, reduced to what the baseline reproduces. Indices point into the shape. */
export interface ShapeResource {
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    /** Index of the parent, -1 for the stack. */
    readonly parent: number;
    /** Indices of the resources it depends on. */
    readonly deps: number[];
    /** Index of its explicit provider, -1 for the default one. */
    readonly provider: number;
}

const STACK_TYPE = "pulumi:pulumi:Stack";

/** The registration order, types, names, parents, dependencies and providers of a recording. */
export function shapeOf(rec: Recording): ShapeResource[] {
    const index = new Map<string, number>();
    const out: ShapeResource[] = [];
    for (const r of rec.resources) {
        if (r.type === STACK_TYPE) continue;
        const providerUrn = r.provider === "" ? "" : r.provider.split("::").slice(0, -1).join("::");
        out.push({
            type: r.type,
            name: r.name,
            custom: r.custom,
            parent: index.get(r.parentUrn) ?? -1,
            deps: r.dependencies.map((d) => index.get(d)).filter((i): i is number => i !== undefined),
            provider: providerUrn === "" ? -1 : (index.get(providerUrn) ?? -1),
        });
        index.set(r.urn, out.length - 1);
    }
    return out;
}

const PACKAGES: Record<string, unknown> = { command, random, tls, kubernetes: k8s, cloudflare };

class BenchComponent extends pulumi.ComponentResource {
    constructor(type: string, name: string, opts: pulumi.ComponentResourceOptions) {
        super(type, name, {}, opts);
        this.registerOutputs({});
    }
}

class BenchCustom extends pulumi.CustomResource {
    constructor(type: string, name: string, opts: pulumi.CustomResourceOptions) {
        super(type, name, { n: 1 }, opts);
    }
}

class BenchProvider extends pulumi.ProviderResource {
    constructor(pkg: string, name: string, opts: pulumi.ResourceOptions) {
        super(pkg, name, { n: 1 }, opts);
    }
}

type ResourceClass = new (name: string, args: Record<string, unknown>, opts: pulumi.CustomResourceOptions) => pulumi.Resource;

/** The SDK class of a type token (`kubernetes:networking.k8s.io/v1:Ingress` → `k8s.networking.v1.Ingress`). */
export function resourceClass(type: string): ResourceClass | undefined {
    const [pkg, mod, name] = type.split(":");
    if (pkg === "pulumi" && mod === "providers") return (PACKAGES[name] as { Provider?: ResourceClass } | undefined)?.Provider;
    if (PACKAGES[pkg] === undefined || name === undefined) return undefined;
    let m = PACKAGES[pkg] as Record<string, any> | undefined;
    if (!mod.startsWith("index")) {
        for (const seg of mod.split("/")) m = m?.[seg.split(".")[0]];
    }
    const cls: unknown = m?.[name];
    return typeof cls === "function" ? (cls as ResourceClass) : undefined;
}

/** Per type, the properties its class insists on (found on first use from its "Missing required property" error). */
const required = new Map<string, string[]>();

function construct(cls: ResourceClass, type: string, name: string, opts: pulumi.CustomResourceOptions): pulumi.Resource {
    for (;;) {
        const props = required.get(type) ?? [];
        const args: Record<string, unknown> = { n: 1 };
        for (const p of props) args[p] = p === "connection" ? { host: "h" } : "x";
        try {
            return new cls(name, args, opts);
        } catch (e) {
            const m = /^Missing required property '([^']+)'$/.exec((e as Error).message);
            if (!m || props.includes(m[1])) throw e;
            required.set(type, [...props, m[1]]);
        }
    }
}

/** How the baseline registered its resources. */
export interface BaselineStats {
    /** Custom resources registered through their SDK class. */
    typed: number;
    /** Custom resources of a type with no SDK class here, registered as plain CustomResource. */
    untyped: number;
}

/**
 * The baseline program: registers the resources of `shape` in the same order, with the same types, names,
 * parents, dependencies and providers, through the same SDK classes (so each type has its SDK-generated
 * properties), each with trivial inputs (the class's required properties set to a constant). No config, no
 * validation, no plans, no rendered text: what the SDK and the mock engine cost for a program of this shape.
 * With `typed` false every custom resource is a plain `pulumi.CustomResource` with one input instead.
 */
export function baselineProgram(shape: readonly ShapeResource[], typed = true, stats: BaselineStats = { typed: 0, untyped: 0 }): () => void {
    return () => {
        const made: pulumi.Resource[] = [];
        for (const s of shape) {
            const parent = s.parent >= 0 ? made[s.parent] : undefined;
            const dependsOn = s.deps.map((d) => made[d]);
            const opts: pulumi.CustomResourceOptions = { ...(parent !== undefined ? { parent } : {}), ...(dependsOn.length > 0 ? { dependsOn } : {}) };
            if (s.provider >= 0) opts.provider = made[s.provider] as pulumi.ProviderResource;
            let r: pulumi.Resource;
            if (!s.custom) {
                r = new BenchComponent(s.type, s.name, opts);
            } else {
                const cls = typed ? resourceClass(s.type) : undefined;
                if (cls !== undefined) {
                    r = construct(cls, s.type, s.name, opts);
                    stats.typed++;
                } else {
                    r = s.type.startsWith("pulumi:providers:") ? new BenchProvider(s.type.slice("pulumi:providers:".length), s.name, opts) : new BenchCustom(s.type, s.name, opts);
                    stats.untyped++;
                }
            }
            made.push(r);
        }
    };
}

export async function runBaseline(shape: readonly ShapeResource[], typed = true, stats?: BaselineStats): Promise<Recording> {
    return record(baselineProgram(shape, typed, stats), { project: PROJECT, stack: "bench" });
}

// ---------------------------------------------------------------------------------------------------------
// Structure.

/** A host step: a `command:remote:Command` with the host and step from its script header. */
export interface HostStep {
    readonly resource: RecordedResource;
    /** The host the step runs on (a k3s-node step runs on the control host, the first server). */
    readonly host: string;
    /** Step name, e.g. `wg-config`, `k3s-install`, `k3s-node-<node>`. */
    readonly step: string;
}

export function hostSteps(rec: Recording): HostStep[] {
    const out: HostStep[] = [];
    for (const r of rec.resources) {
        if (r.type !== CMD) continue;
        const id = stepIdentity(r);
        if (id === undefined) throw new Error(`host step ${r.name} has no "# hybridinfra: host/step" header`);
        out.push({ resource: r, host: id.host, step: id.step });
    }
    return out;
}

export interface CriticalPath {
    /** Host steps on the longest dependency chain. */
    readonly length: number;
    /** That chain, first step first, as `host/step`. */
    readonly chain: string[];
}

/**
 * The longest chain of host steps in the dependency graph, counted in steps. Depending on a component means
 * depending on every custom resource under it (`customDependencies`, as the engine does); chains through
 * other custom resources (keys, the token, the Kubernetes provider) count only their host steps.
 */
export function criticalPath(rec: Recording): CriticalPath {
    const deps = customDependencies(rec);
    const byUrn = new Map(rec.resources.map((r) => [r.urn, r]));
    const ids = new Map(hostSteps(rec).map((s) => [s.resource.urn, `${s.host}/${s.step}`]));
    const memo = new Map<string, { length: number; prev?: string }>();
    const state = new Map<string, "visiting" | "done">();
    // Iterative DFS: chains can be thousands of resources deep.
    const longest = (start: string): number => {
        const stack: { urn: string; expanded: boolean }[] = [{ urn: start, expanded: false }];
        while (stack.length > 0) {
            const top = stack[stack.length - 1];
            if (state.get(top.urn) === "done") {
                stack.pop();
                continue;
            }
            if (!top.expanded) {
                if (state.get(top.urn) === "visiting") throw new Error(`dependency cycle at ${byUrn.get(top.urn)?.name}`);
                state.set(top.urn, "visiting");
                top.expanded = true;
                for (const d of deps.get(top.urn) ?? []) if (state.get(d) !== "done") stack.push({ urn: d, expanded: false });
                continue;
            }
            let best: { length: number; prev?: string } = { length: 0 };
            for (const d of deps.get(top.urn) ?? []) {
                const m = memo.get(d)!;
                if (m.length > best.length) best = { length: m.length, prev: d };
            }
            memo.set(top.urn, { length: best.length + (ids.has(top.urn) ? 1 : 0), ...(best.prev !== undefined ? { prev: best.prev } : {}) });
            state.set(top.urn, "done");
            stack.pop();
        }
        return memo.get(start)!.length;
    };
    let end: string | undefined;
    let max = 0;
    for (const r of rec.resources) {
        if (!r.custom) continue;
        const l = longest(r.urn);
        if (l > max) {
            max = l;
            end = r.urn;
        }
    }
    const chain: string[] = [];
    for (let cur = end; cur !== undefined; cur = memo.get(cur)?.prev) {
        const id = ids.get(cur);
        if (id !== undefined) chain.unshift(id);
    }
    return { length: max, chain };
}

// ---------------------------------------------------------------------------------------------------------
// Blast radius.

/** Why a changed host step restarts something, or undefined when it is applied live. */
export function restartReason(step: string, before: RecordedResource, after: RecordedResource): string | undefined {
    if (JSON.stringify(before.inputs.triggers ?? null) !== JSON.stringify(after.inputs.triggers ?? null)) {
        return "triggers changed: the step is replaced (its delete runs, then its create)";
    }
    if (step === "k3s-install") return "k3s-install re-runs: it restarts (or upgrades) k3s when config.yaml or the version changed";
    if (step === "k3s-config") return "config.yaml changed: the install step restarts k3s to apply it";
    // wg-config: `wg syncconf`, address/MTU/routes reconciled live. wg-install: tools only. k3s-node: kubectl
    // label. Ingress forward: iptables chains swapped. None of them restarts an interface or k3s.
    return undefined;
}

export interface ChangedStep {
    readonly host: string;
    readonly step: string;
    readonly name: string;
    /** Set when the change restarts an interface or k3s. */
    readonly restart?: string;
}

export interface BlastRadius {
    /** Hosts of the first run whose existing steps changed inputs, sorted. */
    readonly existingHostsChanged: string[];
    /** Existing steps (on existing hosts) whose inputs changed. */
    readonly changedSteps: ChangedStep[];
    /** Hosts with at least one restart (k3s or an interface), sorted. */
    readonly restartedHosts: string[];
    /** Changed steps that restart something. */
    readonly restarts: number;
    /** Steps that are new but run on a host that existed (e.g. the k3s-node step on the first server). */
    readonly newStepsOnExistingHosts: string[];
    /** Steps that are gone. */
    readonly removedSteps: string[];
    /** Other resources (Kubernetes objects, keys, providers) that are new, gone or changed. */
    readonly otherResourcesChanged: number;
}

const inputsText = (r: RecordedResource): string => JSON.stringify(r.inputs);

/**
 * What a change (the second recording against the first) touches: steps are matched by URN and compared on
 * all their inputs (scripts, connection, secrets on stdin, triggers). A k3s-config change counts as a k3s
 * restart on its host once (the install step that applies it changes too).
 */
export function blastRadius(before: Recording, after: Recording): BlastRadius {
    const oldSteps = new Map(hostSteps(before).map((s) => [s.resource.urn, s]));
    const newSteps = hostSteps(after);
    const oldHosts = new Set([...oldSteps.values()].map((s) => s.host));
    const changedSteps: ChangedStep[] = [];
    const newStepsOnExistingHosts: string[] = [];
    for (const s of newSteps) {
        const old = oldSteps.get(s.resource.urn);
        if (old === undefined) {
            if (oldHosts.has(s.host)) newStepsOnExistingHosts.push(`${s.host}/${s.step}`);
            continue;
        }
        if (inputsText(old.resource) === inputsText(s.resource)) continue;
        const restart = restartReason(s.step, old.resource, s.resource);
        changedSteps.push({ host: s.host, step: s.step, name: s.resource.name, ...(restart !== undefined ? { restart } : {}) });
    }
    const newUrns = new Set(newSteps.map((s) => s.resource.urn));
    const removedSteps = [...oldSteps.values()].filter((s) => !newUrns.has(s.resource.urn)).map((s) => `${s.host}/${s.step}`);
    const restartedHosts = [...new Set(changedSteps.filter((c) => c.restart !== undefined).map((c) => c.host))].sort();
    // One k3s restart per host, whichever of its k3s steps carries it.
    const restarts = new Set(changedSteps.filter((c) => c.restart !== undefined).map((c) => (c.step.startsWith("k3s-") && !c.step.startsWith("k3s-node") ? `${c.host}/k3s` : `${c.host}/${c.step}`))).size;
    const oldOther = new Map(before.resources.filter((r) => r.type !== CMD).map((r) => [r.urn, r]));
    let otherResourcesChanged = 0;
    const seen = new Set<string>();
    for (const r of after.resources) {
        if (r.type === CMD) continue;
        seen.add(r.urn);
        const old = oldOther.get(r.urn);
        if (old === undefined || inputsText(old) !== inputsText(r)) otherResourcesChanged++;
    }
    for (const urn of oldOther.keys()) if (!seen.has(urn)) otherResourcesChanged++;
    return {
        existingHostsChanged: [...new Set(changedSteps.map((c) => c.host))].sort(),
        changedSteps,
        restartedHosts,
        restarts,
        newStepsOnExistingHosts,
        removedSteps,
        otherResourcesChanged,
    };
}

// ---------------------------------------------------------------------------------------------------------
// Rendered bytes.

export interface RenderedBytes {
    /** Sum of the create scripts (the command text sent over SSH) of each host's steps, by host. */
    readonly perHost: Record<string, number>;
    readonly largest: { host: string; bytes: number };
    readonly median: number;
    /** The wg-config step alone, median over hosts (the part that grows with peers). */
    readonly wgConfigMedian: number;
    readonly wgConfigLargest: number;
}

function median(values: number[]): number {
    if (values.length === 0) return 0;
    const s = [...values].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
}

export function renderedBytes(rec: Recording): RenderedBytes {
    const perHost: Record<string, number> = {};
    const wg: number[] = [];
    for (const s of hostSteps(rec)) {
        const create = s.resource.inputs.create;
        const bytes = typeof create === "string" ? Buffer.byteLength(create, "utf8") : 0;
        perHost[s.host] = (perHost[s.host] ?? 0) + bytes;
        if (s.step === "wg-config") wg.push(bytes);
    }
    let largest = { host: "", bytes: 0 };
    for (const [host, bytes] of Object.entries(perHost)) if (bytes > largest.bytes) largest = { host, bytes };
    return { perHost, largest, median: median(Object.values(perHost)), wgConfigMedian: median(wg), wgConfigLargest: Math.max(0, ...wg) };
}
