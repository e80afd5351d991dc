/**
 * Offline render: runs the Pulumi program for a stack in-process under the recording mock engine (no
 * Pulumi CLI, no hosts, no cloud) and lays out what would land where:
 *   hosts/<host>/NN-<step>.sh         every host step's script, in the order Pulumi would run them
 *   hosts/<host>/NN-<step>.delete.sh  the script that undoes it
 *   hosts/<host>/files/<path>         every file the steps write (secrets stay as @@HI_SECRET:name@@)
 *   resources.json                    every resource: type, name, parent, dependencies, inputs (secrets redacted)
 * It does not replace `pulumi preview`: it cannot see the hosts' or the cloud's actual state, and provider
 * outputs (random keys, tunnel IDs, the kubeconfig) are deterministic fakes.
 */
import { record, Recording, RecordedResource, OutputFactory, CallHandler } from "../tests/harness/mocks";
import { extractProgram } from "../tests/harness/shellcheck";
import { loadStack, PROJECT } from "./stack";
import { ProgramOutputs, ProgramResult, runProgram } from "../infra/program";
import type { HybridCluster } from "../components/src/cluster";
import { KUBECONFIG_BEGIN, KUBECONFIG_END } from "../components/src/k3s/scripts";

export const REDACTED = "[secret]";
export const COMMAND_TYPE = "command:remote:Command";

export const FAKE_KUBECONFIG = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- cluster:",
    "    certificate-authority-data: RkFLRS1DQQ==",
    "    server: https://127.0.0.1:6443",
    "  name: default",
    "contexts:",
    "- context:",
    "    cluster: default",
    "    user: default",
    "  name: default",
    "current-context: default",
    "users:",
    "- name: default",
    "  user:",
    "    client-certificate-data: RkFLRS1DRVJU",
    "    client-key-data: RkFLRS1LRVk=",
    "",
].join("\n");

/** Fakes for step outputs the program reads back (kubeconfig, tailnet addresses). */
export const RENDER_OUTPUTS: Record<string, OutputFactory> = {
    [COMMAND_TYPE]: ({ name }) => {
        if (/kubeconfig$/.test(name)) {
            return { stdout: `${KUBECONFIG_BEGIN}\n${FAKE_KUBECONFIG}${KUBECONFIG_END}\n`, stderr: "" };
        }
        const ts = /-ts-up$/.exec(name);
        if (ts) {
            let h = 0;
            for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 250;
            return { stdout: `hybridinfra-address=100.64.0.${h + 2}\n`, stderr: "" };
        }
        return { stdout: "", stderr: "" };
    },
};

/** Fakes for provider functions the program calls. */
export const RENDER_CALLS: Record<string, CallHandler> = {
    "cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken": (inputs) => ({
        ...inputs,
        token: `FAKE-TUNNEL-TOKEN-${String(inputs.tunnelId ?? "unknown")}`,
    }),
};

export interface StackRun {
    readonly recording: Recording;
    readonly outputs: ProgramOutputs;
    readonly cluster: HybridCluster;
}

/** Runs a shipped stack's program under the mock engine. */
export async function runStack(stack: string, opts: { preview?: boolean; extraConfig?: Record<string, string>; outputs?: Record<string, OutputFactory> } = {}): Promise<StackRun> {
    const loaded = loadStack(stack, opts.extraConfig);
    let result: ProgramResult | undefined;
    const recording = await record(
        () => {
            result = runProgram();
            return result.outputs;
        },
        {
            preview: opts.preview ?? false,
            config: loaded.config,
            secretKeys: loaded.secretKeys,
            project: PROJECT,
            stack,
            outputs: { ...RENDER_OUTPUTS, ...(opts.outputs ?? {}) },
            calls: RENDER_CALLS,
        },
    );
    return { recording, outputs: result!.outputs, cluster: result!.cluster };
}

/** `host/step` from a host step's command header. */
export function stepIdentity(r: RecordedResource): { host: string; step: string } | undefined {
    const text = r.inputs.create;
    if (typeof text !== "string") return undefined;
    const m = /^# hybridinfra: ([^/\n]+)\/(\S+)$/m.exec(text);
    return m ? { host: m[1], step: m[2] } : undefined;
}

/** Custom resources each resource depends on, with dependencies on components expanded to their children. */
export function customDependencies(rec: Recording): Map<string, Set<string>> {
    const children = new Map<string, string[]>();
    for (const r of rec.resources) {
        if (!children.has(r.parentUrn)) children.set(r.parentUrn, []);
        children.get(r.parentUrn)!.push(r.urn);
    }
    const byUrn = new Map(rec.resources.map((r) => [r.urn, r]));
    const leaves = (urn: string, out: Set<string>) => {
        const r = byUrn.get(urn);
        if (!r) return;
        if (r.custom) out.add(urn);
        else for (const c of children.get(urn) ?? []) leaves(c, out);
    };
    const deps = new Map<string, Set<string>>();
    for (const r of rec.resources) {
        const out = new Set<string>();
        for (const d of r.dependencies) leaves(d, out);
        out.delete(r.urn);
        deps.set(r.urn, out);
    }
    return deps;
}

/**
 * Host steps in an order Pulumi could run them: dependencies first, ties by name. (Registration order is
 * not stable: a step whose script waits on an Output registers when it resolves.)
 */
export function orderedSteps(rec: Recording): RecordedResource[] {
    const steps = rec.resources.filter((r) => r.type === COMMAND_TYPE).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const deps = customDependencies(rec);
    const stepUrns = new Set(steps.map((s) => s.urn));
    const done = new Set<string>();
    const out: RecordedResource[] = [];
    const visit = (r: RecordedResource, stack: Set<string>) => {
        if (done.has(r.urn)) return;
        if (stack.has(r.urn)) throw new Error(`dependency cycle at ${r.name}`);
        stack.add(r.urn);
        for (const d of deps.get(r.urn) ?? []) {
            if (stepUrns.has(d)) visit(steps.find((s) => s.urn === d)!, stack);
        }
        stack.delete(r.urn);
        done.add(r.urn);
        out.push(r);
    };
    for (const s of steps) visit(s, new Set());
    return out;
}

function redact(value: unknown, path: string, secretPaths: readonly string[]): unknown {
    if (secretPaths.some((p) => p === path || p === "")) return REDACTED;
    if (Array.isArray(value)) return value.map((v, i) => redact(v, `${path}${path ? "." : ""}${i}`, secretPaths));
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, `${path}${path ? "." : ""}${k}`, secretPaths)]));
    }
    return value;
}

const WRITE_RE = /^hi_write_file (\S+) (\S+) (\S+) (\S+) <<'([A-Z_0-9]+)'\n([\s\S]*?)\n\5$/gm;

function unquote(word: string): string {
    return word.startsWith("'") && word.endsWith("'") ? word.slice(1, -1).replace(/'"'"'/g, "'") : word;
}

/** Lays out a recording as the render tree (relative path → content). */
export function renderTree(rec: Recording): Map<string, string> {
    const files = new Map<string, string>();
    const counters = new Map<string, number>();
    const scriptOf = new Map<string, string>();
    for (const s of orderedSteps(rec)) {
        const id = stepIdentity(s);
        if (!id) continue;
        const n = (counters.get(id.host) ?? 0) + 1;
        counters.set(id.host, n);
        const base = `hosts/${id.host}/${String(n).padStart(2, "0")}-${id.step}`;
        const program = extractProgram(s.inputs.create);
        files.set(`${base}.sh`, program);
        scriptOf.set(s.urn, `${base}.sh`);
        if (typeof s.inputs.delete === "string") files.set(`${base}.delete.sh`, extractProgram(s.inputs.delete));
        for (const m of program.matchAll(WRITE_RE)) {
            const [, p, mode, owner, prefix] = m;
            // A path held in a shell variable is shown in the step's script only.
            if (!unquote(p).startsWith("/")) continue;
            const header = unquote(prefix) !== "" ? `${unquote(prefix)} managed by hybridinfra: do not edit, changes are overwritten\n` : "";
            files.set(`hosts/${id.host}/files${unquote(p)}`, `${header}${m[6]}\n`);
            files.set(`hosts/${id.host}/files${unquote(p)}.meta`, `mode ${unquote(mode)} owner ${unquote(owner)} written by ${id.step}\n`);
        }
    }
    const byTypeAndName = [...rec.resources].sort((a, b) => (`${a.type} ${a.name}` < `${b.type} ${b.name}` ? -1 : 1));
    const resources = byTypeAndName.map((r) => {
        let inputs = redact(r.inputs, "", r.secretPaths) as Record<string, unknown>;
        if (r.type === COMMAND_TYPE && scriptOf.has(r.urn)) {
            const ref = scriptOf.get(r.urn)!;
            inputs = { ...inputs, create: `<${ref}>`, update: `<${ref}>`, ...(inputs.delete !== undefined ? { delete: `<${ref.replace(/\.sh$/, ".delete.sh")}>` } : {}) };
        }
        return { type: r.type, name: r.name, parent: r.parent, dependencies: [...r.dependencyNames].sort(), ...(r.provider ? { provider: r.provider.split("::")[3] } : {}), inputs };
    });
    files.set("resources.json", `${JSON.stringify(resources, null, 2)}\n`);
    return files;
}
