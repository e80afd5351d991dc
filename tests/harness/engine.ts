/**
 * The real Pulumi engine for tests: the CLI and provider plugins built by `bash tools/engine/build.sh`
 * into `.tools/`, driven through the Automation API.
 *
 * Programs run inline (in this process) because the Node.js language host cannot be built here (the Go
 * module proxy refuses github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3): the CLI then
 * talks to the language runtime the Automation API serves in-process instead of starting
 * `pulumi-language-nodejs`. Everything else is the real engine: state in a file backend, secrets
 * encrypted with a passphrase, plugins loaded from PULUMI_HOME, diffs and summaries computed by the CLI.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as automation from "@pulumi/pulumi/automation";
import { loadStack } from "../../tools/stack";

export const TOOLS_DIR = path.resolve(__dirname, "../../.tools");
export const PULUMI_BIN = path.join(TOOLS_DIR, "bin", "pulumi");
export const PULUMI_HOME = path.join(TOOLS_DIR, "pulumi-home");

/** Why the engine cannot run, or undefined when it can. */
export function engineMissing(): string | undefined {
    if (!existsSync(PULUMI_BIN)) return `${PULUMI_BIN} is missing: run \`bash tools/engine/build.sh\``;
    return undefined;
}

/** Set in CI: a missing engine fails the tests instead of skipping them. */
export const ENGINE_REQUIRED = process.env.HYBRIDINFRA_REQUIRE_ENGINE === "1";

export interface EngineStackOptions {
    readonly project: string;
    readonly stack: string;
    readonly program: automation.PulumiFn;
    /** Stack config, as `pulumi config set [--secret]` would write it. */
    readonly config?: Record<string, automation.ConfigValue>;
}

export interface EngineStack {
    readonly stack: automation.Stack;
    /** Everything the CLI printed, in order, across all operations. */
    readonly output: string[];
    /** Runs `pulumi destroy` (when `destroy` is true) and removes the stack's state folder. */
    dispose(destroy?: boolean): Promise<void>;
}

/** Prints the CLI's own output to the test log, so CI shows the engine's summaries. */
function echo(output: string[]): (s: string) => void {
    return (s: string) => {
        output.push(s);
        process.stdout.write(s.replace(/^/gm, "    | "));
    };
}

/** A stack on a fresh file backend, driven by the real CLI. */
export async function createEngineStack(opts: EngineStackOptions): Promise<EngineStack> {
    const why = engineMissing();
    if (why !== undefined) throw new Error(why);
    const dir = mkdtempSync(path.join(tmpdir(), `hil-engine-${opts.stack}-`));
    const pulumiCommand = await automation.PulumiCommand.get({ root: TOOLS_DIR });
    const envVars: Record<string, string> = {
        PULUMI_HOME,
        PULUMI_CONFIG_PASSPHRASE: "hybridinfra-tests",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        // Plugins come from PULUMI_HOME at the exact version the SDK asks for, never from a binary on PATH
        // (which the CLI would use whatever its version): an SDK/plugin mismatch fails instead of hiding.
        PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
        PATH: `${path.join(TOOLS_DIR, "bin")}:${process.env.PATH ?? ""}`,
    };
    const stack = await automation.LocalWorkspace.createOrSelectStack(
        { projectName: opts.project, stackName: opts.stack, program: opts.program },
        {
            workDir: dir,
            pulumiCommand,
            envVars,
            projectSettings: { name: opts.project, runtime: "nodejs", backend: { url: `file://${dir}` } },
        },
    );
    if (opts.config !== undefined) await stack.setAllConfig(opts.config);
    const output: string[] = [];
    const on = echo(output);
    return {
        stack: wrap(stack, on),
        output,
        async dispose(destroy = true) {
            try {
                if (destroy) await stack.destroy({ onOutput: on });
            } finally {
                rmSync(dir, { recursive: true, force: true });
            }
        },
    };
}

/** The stack, with every operation's output echoed unless the caller passes its own `onOutput`. */
function wrap(stack: automation.Stack, on: (s: string) => void): automation.Stack {
    const up = stack.up.bind(stack);
    const preview = stack.preview.bind(stack);
    const destroy = stack.destroy.bind(stack);
    const refresh = stack.refresh.bind(stack);
    return Object.assign(stack, {
        up: (o?: automation.UpOptions) => up({ onOutput: on, ...o }),
        preview: (o?: automation.PreviewOptions) => preview({ onOutput: on, ...o }),
        destroy: (o?: automation.DestroyOptions) => destroy({ onOutput: on, ...o }),
        refresh: (o?: automation.RefreshOptions) => refresh({ onOutput: on, ...o }),
    });
}

/** The engine's own change counts of an update, without the `same` entry. */
export function changes(summary: { resourceChanges?: Record<string, number> } | undefined): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [op, n] of Object.entries(summary?.resourceChanges ?? {})) if (op !== "same" && n > 0) out[op] = n;
    return out;
}

/**
 * The kubernetes provider waits for an Ingress until an ingress controller publishes its address. In k3s
 * that is the bundled Traefik; the test control plane runs none (no container runs here), so programs under
 * test call this to apply Ingresses without that wait (`pulumi.com/skipAwait`). The product code is
 * unchanged; everything else about the Ingress (schema, admission, diff) is the real API server's.
 */
export function skipIngressAwait(): void {
    pulumi.runtime.registerResourceTransform((a) => {
        if (a.type !== "kubernetes:networking.k8s.io/v1:Ingress") return undefined;
        const metadata = (a.props.metadata ?? {}) as { annotations?: Record<string, string> };
        return { props: { ...a.props, metadata: { ...metadata, annotations: { ...metadata.annotations, "pulumi.com/skipAwait": "true" } } }, opts: a.opts };
    });
}

/**
 * An inline program that throws leaves the Stack resource's output promises rejected after the Automation
 * API's language server has removed its own handlers (the CLI's language host process ends there instead).
 * Call `start()` in a suite's `before` and `stop()` in its `after`: in between, such late rejections are
 * collected in `late` instead of failing the file (the node test runner's own listeners are put back after);
 * a test should then require each to be the expected refusal.
 */
export function lateRejections(): { late: unknown[]; start: () => void; stop: () => void } {
    const late: unknown[] = [];
    const collect = (e: unknown) => void late.push(e);
    let saved: NodeJS.UnhandledRejectionListener[] = [];
    return {
        late,
        start: () => {
            saved = process.listeners("unhandledRejection");
            process.removeAllListeners("unhandledRejection");
            process.on("unhandledRejection", collect);
        },
        stop: () => {
            process.off("unhandledRejection", collect);
            for (const l of saved) process.on("unhandledRejection", l);
        },
    };
}

/** The stack config of a shipped stack with `cluster` replaced, as the Automation API takes it (secrets marked). */
export function stackConfigValues(stack: string, cluster: unknown): Record<string, automation.ConfigValue> {
    const loaded = loadStack(stack, { cluster: JSON.stringify(cluster) });
    return Object.fromEntries(Object.entries(loaded.config).map(([k, v]) => [k, { value: v, secret: loaded.secretKeys.includes(k) }]));
}
