/**
 * Entry point of the HybridInfra component provider: what `pulumi package add` runs so that C#, Python, Go and
 * YAML programs can use the components through a generated SDK.
 *
 * Pulumi's nodejs language host loads a source-based plugin with `require(<package dir>)`. Were that to load
 * the library entry (`lib/index.js`), the SDK would host every exported component itself under a provider
 * name derived from the npm name (`@hybridinfra/components` → `components`), which does not match the type
 * tokens the components register (`hybridinfra:index:X`). This module hosts them under `hybridinfra` instead,
 * and finalizes the schema: it marks secret properties (the analyzer cannot infer them from TypeScript types)
 * and names the object types as C# and Python users expect.
 *
 * Loading this module has no side effect unless it is the process's entry point or was loaded by Pulumi's
 * plugin runner, so tests can import it.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { Inputs } from "@pulumi/pulumi";
import type { ConstructResult } from "@pulumi/pulumi/provider";
import { HybridInfraConfigError, HybridInfraConfigErrors } from "./util/errors";
import { main } from "@pulumi/pulumi/provider";
import {
    ComponentProvider,
    ComponentProviderOptions,
    ComponentResourceConstructor,
    getPulumiComponents,
} from "@pulumi/pulumi/provider/experimental";
import * as entry from "./index";

/** The Pulumi package name: every component registers `hybridinfra:index:<Class>`. */
export const PACKAGE_NAME = "hybridinfra";

/**
 * Properties whose values are secrets, as `<Resource>.inputs.<prop>`, `<Resource>.outputs.<prop>` (component
 * resources) or `<Type>.<prop>` (object types). The generated SDKs wrap secret inputs and outputs, so a C#
 * program cannot print a key by accident. Every entry must exist in the schema: a rename fails loudly rather
 * than leaving a secret unmarked.
 */
export const SECRET_PROPERTIES: readonly string[] = [
    // HybridCluster
    "HybridCluster.inputs.sshPrivateKey",
    "HybridCluster.inputs.tailscaleAuthKey",
    "HybridCluster.inputs.datastoreEndpoint",
    "HybridCluster.inputs.cloudflareApiToken",
    "HybridCluster.outputs.kubeconfig",
    "HybridCluster.outputs.operatorConfigs",
    "ClusterSshArgs.privateKey",
    "ClusterAppArgs.secretEnv",
    // overlays
    "WireGuardNode.inputs.privateKey",
    "WireGuardPeerArgs.presharedKey",
    "WireGuardMesh.outputs.operatorConfigs",
    "TailscaleOverlay.inputs.authKey",
    // k3s
    "K3sCluster.inputs.datastoreEndpoint",
    "K3sCluster.outputs.kubeconfig",
    "K3sServer.inputs.datastoreEndpoint",
    "K3sServer.inputs.token",
    "K3sAgent.inputs.token",
    "K3sBackupS3Args.secretKey",
    // apps and ingress
    "ExposedApp.inputs.secretEnv",
    "AppTlsArgs.caPrivateKeyPem",
    "PublicIngressForward.inputs.privateKey",
    "TraefikDashboard.outputs.password",
    // SSH keys of the host models the components share
    "SshHostArgs.privateKey",
    "SshJumpArgs.privateKey",
    "WireGuardHostArgs.privateKey",
    "K3sNodeArgs.privateKey",
    "TailscaleHostArgs.privateKey",
];

/** A package schema as the analyzer produces it (only the parts marking secrets touches). */
export interface PackageSchemaLike {
    resources: Record<string, { inputProperties?: Record<string, object>; properties?: Record<string, object> }>;
    types: Record<string, { properties?: Record<string, object> }>;
    [key: string]: unknown;
}

/**
 * Returns a copy of `schema` with `secret: true` on every property listed in `secrets`.
 * Throws when a listed property is not in the schema.
 */
export function markSecrets<T extends PackageSchemaLike>(schema: T, secrets: readonly string[] = SECRET_PROPERTIES): T {
    const out = structuredClone(schema);
    const missing: string[] = [];
    for (const entryPath of secrets) {
        const parts = entryPath.split(".");
        const token = `${PACKAGE_NAME}:index:${parts[0]}`;
        let props: Record<string, object> | undefined;
        let prop: string | undefined;
        if (parts.length === 3 && (parts[1] === "inputs" || parts[1] === "outputs")) {
            const res = out.resources[token];
            props = parts[1] === "inputs" ? res?.inputProperties : res?.properties;
            prop = parts[2];
        } else if (parts.length === 2) {
            props = out.types[token]?.properties;
            prop = parts[1];
        } else {
            throw new Error(`secret property "${entryPath}": expected <Resource>.inputs.<prop>, <Resource>.outputs.<prop> or <Type>.<prop>`);
        }
        const def = prop === undefined ? undefined : props?.[prop];
        if (def === undefined) missing.push(entryPath);
        else (def as { secret?: boolean }).secret = true;
    }
    if (missing.length > 0) {
        throw new Error(
            `secret properties not found in the ${PACKAGE_NAME} schema: ${missing.join(", ")}. ` +
                "Fix: update SECRET_PROPERTIES in components/src/provider.ts to the current property names",
        );
    }
    return out;
}

/** The component classes the package entry (`src/index.ts`) exports: exactly what the schema describes. */
export function publicComponents(): ComponentResourceConstructor[] {
    return getPulumiComponents(entry);
}

/**
 * The schema name of an object type: its TypeScript interface name without a trailing `Args`. The C#, Python
 * and Go generators append `Args` to every input type, so `ClusterHostArgs` would become
 * `Inputs.ClusterHostArgsArgs` in C#; renamed, it is `Inputs.ClusterHostArgs`. Type names only name generated
 * classes: the provider receives plain property bags, so renaming changes nothing at run time.
 */
export function schemaTypeName(tsName: string): string {
    return tsName.length > "Args".length && tsName.endsWith("Args") ? tsName.slice(0, -"Args".length) : tsName;
}

/** Returns a copy of `schema` with its object types renamed by `schemaTypeName` and every `$ref` to them rewritten. */
export function renameTypes<T extends PackageSchemaLike>(schema: T): T {
    const prefix = `${PACKAGE_NAME}:index:`;
    const renamed = new Map<string, string>();
    const taken = new Map<string, string>();
    for (const tok of Object.keys(schema.types)) {
        const to = prefix + schemaTypeName(tok.slice(prefix.length));
        const other = taken.get(to) ?? (to in schema.resources ? `the component ${to}` : undefined);
        if (other !== undefined) {
            throw new Error(`schema types ${other} and ${tok} would both be named ${to}. Fix: rename one of the TypeScript declarations`);
        }
        taken.set(to, tok);
        renamed.set(tok, to);
    }
    const rewrite = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(rewrite);
        if (typeof v !== "object" || v === null) return v;
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) {
            out[k] = k === "$ref" && typeof x === "string" && x.startsWith("#/types/") ? `#/types/${renamed.get(x.slice("#/types/".length)) ?? x.slice("#/types/".length)}` : rewrite(x);
        }
        return out;
    };
    const types: Record<string, unknown> = {};
    for (const [tok, def] of Object.entries(schema.types)) types[renamed.get(tok)!] = rewrite(def);
    return { ...schema, resources: rewrite(schema.resources), types } as T;
}

/**
 * The schema as served: secrets marked, types renamed, and the C# namespace spelled `Pulumi.HybridInfra`
 * (the generator would title-case the package name to `Pulumi.Hybridinfra`).
 */
export function finalizeSchema<T extends PackageSchemaLike>(schema: T, secrets: readonly string[] = SECRET_PROPERTIES): T {
    const out: PackageSchemaLike = renameTypes(markSecrets(schema, secrets));
    const language = (out.language ?? {}) as Record<string, Record<string, unknown>>;
    out.language = { ...language, csharp: { ...language.csharp, namespaces: { [PACKAGE_NAME]: "HybridInfra" } } };
    return out as T;
}

/** The components package directory (holding package.json and PulumiPlugin.yaml), from `src/` or `lib/`. */
export const PACKAGE_DIR = path.resolve(__dirname, "..");

/** The SDK's component provider, serving the finalized schema (see `finalizeSchema`). */
export class HybridInfraProvider extends ComponentProvider {
    private markedSchema?: string;

    constructor(options?: Partial<ComponentProviderOptions>) {
        super({ name: PACKAGE_NAME, components: publicComponents(), dirname: PACKAGE_DIR, ...options });
    }

    /**
     * Constructs a component for a C#, Go, Python or YAML program. A config problem (one or several, all found
     * at once) becomes a `pulumi.InputPropertiesError`, which the engine prints per property: each with its
     * path in the component's inputs (`hosts[2].ssh.port`) and its `problem. Fix: fix` text.
     */
    override async construct(name: string, type: string, inputs: Inputs, options: pulumi.ComponentResourceOptions): Promise<ConstructResult> {
        try {
            return await super.construct(name, type, inputs, options);
        } catch (e) {
            throw asInputPropertiesError(e);
        }
    }

    override async getSchema(): Promise<string> {
        if (this.markedSchema === undefined) {
            const schema = JSON.parse(await super.getSchema()) as PackageSchemaLike;
            this.markedSchema = JSON.stringify(finalizeSchema(schema));
        }
        return this.markedSchema;
    }
}

/**
 * A config problem as the engine's error for invalid inputs (`pulumi.InputPropertiesError`), each problem a
 * property error; anything else unchanged.
 */
export function asInputPropertiesError(e: unknown): unknown {
    const problems = e instanceof HybridInfraConfigErrors ? e.errors : e instanceof HybridInfraConfigError ? [e] : undefined;
    if (problems === undefined) return e;
    return new pulumi.InputPropertiesError({
        message: (e as Error).message,
        errors: problems.map((p) => ({ propertyPath: p.path, reason: `${p.problem}. Fix: ${p.fix}` })),
    });
}

/** Serves the provider over gRPC to the Pulumi engine (`args` as the engine passes them). */
export function serve(args: string[] = process.argv.slice(2)): Promise<void> {
    return main(new HybridInfraProvider(), args);
}

function launchedAsPlugin(): boolean {
    if (require.main === module) return true;
    // Pulumi's plugin runner requires the plugin module from its own entry script.
    const runner = require.main?.filename ?? "";
    return /[\\/]@pulumi[\\/]pulumi[\\/]cmd[\\/]run-plugin[\\/]/.test(runner);
}

if (launchedAsPlugin()) {
    serve().catch((err: unknown) => {
        console.error(err);
        process.exit(1);
    });
}
