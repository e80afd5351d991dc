// The multi-language package schema: runs Pulumi's component analyzer in-process, through the same provider
// class `pulumi package add` starts (components/src/provider.ts), and checks what C#, Python, Go and YAML
// consumers will get. The analyzer reads the TypeScript sources (src/index.ts and what it re-exports), not
// lib/*.d.ts: it maps the package entry `lib/index.js` to `lib/index.ts`, finds none, and falls back to
// src/index.ts. So no build is needed here.
//
// UPDATE_GOLDEN=1 node tests/run.mjs tests/schema   rewrites tests/schema/schema.golden.json.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Analyzer } from "@pulumi/pulumi/provider/experimental/analyzer";
import { generateSchema } from "@pulumi/pulumi/provider/experimental/schema";
import {
    finalizeSchema,
    HybridInfraProvider,
    markSecrets,
    PACKAGE_DIR,
    PACKAGE_NAME,
    publicComponents,
    renameTypes,
    schemaTypeName,
    SECRET_PROPERTIES,
} from "../../components/src/provider";
import { jsonDiff } from "./jsonDiff";

const GOLDEN = path.join(__dirname, "schema.golden.json");
const SRC = path.join(PACKAGE_DIR, "src");

/** The public components, final: the package is incomplete until every one of them is in the schema. */
const EXPECTED_COMPONENTS = [
    "WireGuardMesh",
    "WireGuardNode",
    "K3sCluster",
    "K3sServer",
    "K3sAgent",
    "ExposedApp",
    "CloudflareTunnel",
    "PublicIngressForward",
    "TraefikDashboard",
    "CertManager",
    "TailscaleOverlay",
    "HybridCluster",
] as const;

/** Secrets the issue names explicitly; SECRET_PROPERTIES in provider.ts lists them all (TypeScript type names). */
const MUST_BE_SECRET = [
    "HybridCluster.inputs.sshPrivateKey",
    "HybridCluster.outputs.kubeconfig",
    "TailscaleOverlay.inputs.authKey",
];

/** Property names that smell of a secret; a string property so named must be marked secret or listed below. */
const SECRET_NAME = /(private.?key|secret|password|passphrase|token|auth.?key|kubeconfig|credential|datastore.?endpoint|preshared)/i;
/** Properties whose names match SECRET_NAME but that hold no secret, with the reason. */
const NOT_SECRET: Record<string, string> = {
    "ClusterIngressArgs.tlsSecretName": "names a Kubernetes Secret the user created, not its content",
    "AppTlsArgs.secretName": "names a Kubernetes Secret, not its content",
    "K3sCluster.inputs.kubeconfigEndpoint": "the API address written into the kubeconfig",
    "ClusterK3sArgs.kubeconfigEndpoint": "the API address written into the kubeconfig",
};

interface PropertyDef {
    type?: string;
    $ref?: string;
    items?: PropertyDef;
    additionalProperties?: PropertyDef;
    secret?: boolean;
    description?: string;
}
interface ResourceDef {
    isComponent?: boolean;
    description?: string;
    inputProperties: Record<string, PropertyDef>;
    requiredInputs: string[];
    properties: Record<string, PropertyDef>;
    required: string[];
}
interface TypeDef {
    type: string;
    properties?: Record<string, PropertyDef>;
    required?: string[];
    enum?: { name: string; value: string | number }[];
}
interface Schema {
    name: string;
    version: string;
    resources: Record<string, ResourceDef>;
    types: Record<string, TypeDef>;
    dependencies?: unknown[];
    [key: string]: unknown;
}

const token = (name: string) => `${PACKAGE_NAME}:index:${name}`;
const local = (tok: string) => tok.slice(`${PACKAGE_NAME}:index:`.length);

/** Every property of the schema, with a readable path: `<Resource>.inputs.<p>`, `<Resource>.outputs.<p>`, `<Type>.<p>`. */
function allProperties(schema: Schema): { where: string; def: PropertyDef }[] {
    const out: { where: string; def: PropertyDef }[] = [];
    for (const [tok, res] of Object.entries(schema.resources)) {
        for (const [p, def] of Object.entries(res.inputProperties ?? {})) out.push({ where: `${local(tok)}.inputs.${p}`, def });
        for (const [p, def] of Object.entries(res.properties ?? {})) out.push({ where: `${local(tok)}.outputs.${p}`, def });
    }
    for (const [tok, t] of Object.entries(schema.types)) {
        for (const [p, def] of Object.entries(t.properties ?? {})) out.push({ where: `${local(tok)}.${p}`, def });
    }
    return out;
}

function collectRefs(v: unknown, at: string, out: { at: string; ref: string }[]): void {
    if (Array.isArray(v)) v.forEach((x, i) => collectRefs(x, `${at}[${i}]`, out));
    else if (typeof v === "object" && v !== null) {
        for (const [k, x] of Object.entries(v)) {
            if (k === "$ref" && typeof x === "string") out.push({ at, ref: x });
            else collectRefs(x, `${at}.${k}`, out);
        }
    }
}

/** Holds a string value (plain, array of, map of): the only kind of property that can carry a secret. */
function holdsString(def: PropertyDef): boolean {
    if (def.type === "string") return true;
    if (def.items) return holdsString(def.items);
    if (def.additionalProperties) return holdsString(def.additionalProperties);
    return false;
}

function sourceFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) return sourceFiles(p);
        return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
    });
}

/** `where` with a TypeScript interface name (as SECRET_PROPERTIES has it) → the same path in the served schema. */
function toSchemaPath(where: string): string {
    const parts = where.split(".");
    return parts.length === 2 ? `${schemaTypeName(parts[0]!)}.${parts[1]}` : where;
}

function propertyAt(schema: Schema, where: string): PropertyDef | undefined {
    const parts = where.split(".");
    if (parts.length === 3) {
        const res = schema.resources[token(parts[0]!)];
        return (parts[1] === "inputs" ? res?.inputProperties : res?.properties)?.[parts[2]!];
    }
    return schema.types[token(parts[0]!)]?.properties?.[parts[1]!];
}

describe("component package schema (analyzer machinery on one finished component)", () => {
    // Independent of the package entry and the other components: the analyzer (as the SDK's provider calls it)
    // with the tailscale domain's index standing in for the package entry.
    let schema: Schema;
    before(() => {
        const pkg = { name: "@hybridinfra/components", version: "0.0.0", main: "src/tailscale/index.js" };
        const analyzer = new Analyzer(PACKAGE_DIR, PACKAGE_NAME, pkg, new Set(["TailscaleOverlay"]));
        const { components, typeDefinitions, dependencies } = analyzer.analyze();
        schema = generateSchema(PACKAGE_NAME, "0.0.0", "test", components, typeDefinitions, dependencies) as unknown as Schema;
    });

    it("describes TailscaleOverlay's inputs, required inputs and outputs", () => {
        const res = schema.resources[token("TailscaleOverlay")];
        assert.ok(res, `no ${token("TailscaleOverlay")} in ${Object.keys(schema.resources).join(", ")}`);
        assert.equal(res.isComponent, true);
        assert.deepEqual(Object.keys(res.inputProperties), ["hosts", "authKey", "loginServer", "acceptRoutes"]);
        assert.deepEqual(res.requiredInputs, ["authKey", "hosts"]);
        assert.deepEqual(res.properties, {
            addresses: { type: "object", additionalProperties: { type: "string" }, description: "Each host's tailnet IPv4 address." },
            interfaceName: { type: "string", description: "The interface k3s uses: `tailscale0`." },
        });
        assert.deepEqual(res.required, ["addresses", "interfaceName"]);
        assert.deepEqual(res.inputProperties.hosts!.items, { $ref: `#/types/${token("TailscaleHostArgs")}`, plain: true });
        // authKey is a pulumi.Input: not plain, so C# takes an Input<string> there.
        assert.equal((res.inputProperties.authKey as { plain?: boolean }).plain, undefined);
    });

    it("gets no secret marks from the analyzer: they come from SECRET_PROPERTIES", () => {
        assert.equal(propertyAt(schema, "TailscaleOverlay.inputs.authKey")?.secret, undefined);
        const marked = markSecrets(schema, ["TailscaleOverlay.inputs.authKey", "TailscaleHostArgs.privateKey"]);
        assert.equal(propertyAt(marked, "TailscaleOverlay.inputs.authKey")?.secret, true);
        assert.equal(propertyAt(marked, "TailscaleHostArgs.privateKey")?.secret, true);
        assert.equal(propertyAt(marked, "TailscaleHostArgs.hostKey")?.secret, undefined);
        // the input schema is not modified
        assert.equal(propertyAt(schema, "TailscaleOverlay.inputs.authKey")?.secret, undefined);
    });

    it("refuses a secret entry that is not in the schema, naming it", () => {
        assert.throws(
            () => markSecrets(schema, ["TailscaleOverlay.inputs.authkey", "TailscaleHostArgs.privateKey"]),
            {
                message:
                    "secret properties not found in the hybridinfra schema: TailscaleOverlay.inputs.authkey. " +
                    "Fix: update SECRET_PROPERTIES in components/src/provider.ts to the current property names",
            },
        );
        assert.throws(() => markSecrets(schema, ["TailscaleOverlay.authKey.x.y"]), /expected <Resource>\.inputs\.<prop>/);
    });

    it("names object types without the Args suffix the SDK generators add again, rewriting every $ref", () => {
        const renamed = renameTypes(schema);
        assert.deepEqual(Object.keys(renamed.types).sort(), [token("SshJump"), token("TailscaleHost")]);
        assert.deepEqual(renamed.resources[token("TailscaleOverlay")]!.inputProperties.hosts!.items, {
            $ref: `#/types/${token("TailscaleHost")}`,
            plain: true,
        });
        assert.deepEqual(renamed.types[token("TailscaleHost")]!.properties!.jump!.$ref, `#/types/${token("SshJump")}`);
        assert.equal(schemaTypeName("Args"), "Args");
        assert.equal(schemaTypeName("Topology"), "Topology");
    });

    it("refuses a rename that would merge two types", () => {
        const clash = structuredClone(schema);
        clash.types[token("SshJump")] = { type: "object", properties: {} };
        assert.throws(() => renameTypes(clash), {
            message:
                `schema types ${token("SshJumpArgs")} and ${token("SshJump")} would both be named ${token("SshJump")}. ` +
                "Fix: rename one of the TypeScript declarations",
        });
    });

    it("sets the C# namespace to Pulumi.HybridInfra and keeps the analyzer's language settings", () => {
        const final = finalizeSchema(schema, ["TailscaleOverlay.inputs.authKey"]);
        assert.deepEqual((final.language as Record<string, object>).csharp, { respectSchemaVersion: true, namespaces: { hybridinfra: "HybridInfra" } });
        assert.deepEqual((final.language as Record<string, object>).go, { respectSchemaVersion: true });
    });
});

describe("component package schema (every public component)", () => {
    let schema: Schema;
    let analyzeError: unknown;
    before(async () => {
        try {
            schema = JSON.parse(await new HybridInfraProvider().getSchema()) as Schema;
        } catch (err) {
            analyzeError = err;
        }
    });
    const analyzed = () => {
        if (analyzeError !== undefined) throw analyzeError;
        return schema;
    };

    it("the package entry exports exactly the twelve public components", () => {
        const exported = publicComponents().map((c) => c.name).sort();
        const missing = EXPECTED_COMPONENTS.filter((n) => !exported.includes(n));
        const extra = exported.filter((n) => !(EXPECTED_COMPONENTS as readonly string[]).includes(n));
        assert.deepEqual(
            { missing, extra },
            { missing: [], extra: [] },
            "components/src/index.ts must export these ComponentResource classes (and no others)",
        );
    });

    it("the analyzer accepts every component and the schema lists each of them", () => {
        const s = analyzed();
        assert.equal(s.name, PACKAGE_NAME);
        assert.deepEqual(Object.keys(s.resources).sort(), EXPECTED_COMPONENTS.map(token).sort());
    });

    it("every component has documented inputs, consistent required lists and only plain outputs", () => {
        const problems: string[] = [];
        for (const [tok, res] of Object.entries(analyzed().resources)) {
            const name = local(tok);
            if (res.isComponent !== true) problems.push(`${name}: not marked isComponent`);
            if (!res.description) problems.push(`${name}: class has no doc comment (the SDKs' class documentation)`);
            if (Object.keys(res.inputProperties).length === 0) problems.push(`${name}: no inputs`);
            for (const r of res.requiredInputs) if (!(r in res.inputProperties)) problems.push(`${name}: required input ${r} is not an input`);
            for (const r of res.required) if (!(r in res.properties)) problems.push(`${name}: required output ${r} is not an output`);
            for (const [p, def] of Object.entries(res.properties)) {
                if (def.$ref === "pulumi.json#/Any") problems.push(`${name}.outputs.${p}: typed any (a private field, or a field that is not pulumi.Output<T>)`);
            }
        }
        assert.deepEqual(problems, []);
    });

    it("marks secrets: the issue's named ones, every SECRET_PROPERTIES entry, and every secret-looking string", () => {
        const s = analyzed();
        for (const where of MUST_BE_SECRET) {
            assert.ok(SECRET_PROPERTIES.includes(where), `${where} missing from SECRET_PROPERTIES`);
            assert.equal(propertyAt(s, where)?.secret, true, `${where} is not marked secret`);
        }
        for (const where of SECRET_PROPERTIES) {
            assert.equal(propertyAt(s, toSchemaPath(where))?.secret, true, `${where} is not marked secret`);
        }
        const notSecret = new Set(Object.keys(NOT_SECRET).map(toSchemaPath));
        const unmarked = allProperties(s)
            .filter(({ where, def }) => SECRET_NAME.test(where.split(".").pop()!) && holdsString(def) && def.secret !== true)
            .map(({ where }) => where)
            .filter((where) => !notSecret.has(where));
        assert.deepEqual(
            unmarked,
            [],
            "add these to SECRET_PROPERTIES in components/src/provider.ts, with the TypeScript interface name (or to NOT_SECRET here, with the reason)",
        );
    });

    it("no $ref points to another provider's schema, and every local $ref resolves", () => {
        const s = analyzed();
        const refs: { at: string; ref: string }[] = [];
        collectRefs(s, "$", refs);
        const foreign = refs.filter(({ ref }) => !ref.startsWith("#/types/") && !ref.startsWith("pulumi.json#/"));
        assert.deepEqual(foreign, [], "expose plain values instead of provider resources (e.g. a command.remote.Command)");
        const dangling = refs.filter(({ ref }) => ref.startsWith("#/types/") && !(ref.slice("#/types/".length) in s.types));
        assert.deepEqual(dangling, []);
        const anyTyped = refs.filter(({ ref }) => ref === "pulumi.json#/Any");
        assert.deepEqual(anyTyped, [], "an `any`-typed property gives C# an untyped object");
        assert.deepEqual(s.dependencies ?? [], [], "the package must not depend on another provider's schema");
    });

    it("each schema type name is declared once in the sources (the analyzer silently merges same-named types)", () => {
        const s = analyzed();
        const names = Object.keys(s.types).flatMap((t) => [local(t), `${local(t)}Args`]);
        const decl = new Map<string, string[]>();
        for (const file of sourceFiles(SRC)) {
            const text = fs.readFileSync(file, "utf8");
            for (const n of names) {
                if (new RegExp(`export\\s+(?:declare\\s+)?(?:interface|const|type|enum|class)\\s+${n}\\b`).test(text)) {
                    decl.set(n, [...(decl.get(n) ?? []), path.relative(PACKAGE_DIR, file)]);
                }
            }
        }
        const dup = [...decl].filter(([, files]) => new Set(files).size > 1).map(([n, files]) => `${n}: ${[...new Set(files)].join(", ")}`);
        assert.deepEqual(dup, []);
    });

    it("is served with the C# namespace Pulumi.HybridInfra", () => {
        assert.deepEqual((analyzed().language as Record<string, { namespaces?: object }>).csharp?.namespaces, { hybridinfra: "HybridInfra" });
    });

    it("matches the committed golden schema (UPDATE_GOLDEN=1 rewrites it)", () => {
        const s = analyzed();
        const text = `${JSON.stringify(s, null, 2)}\n`;
        if (process.env.UPDATE_GOLDEN === "1") {
            fs.writeFileSync(GOLDEN, text);
            return;
        }
        assert.ok(fs.existsSync(GOLDEN), `no ${path.relative(process.cwd(), GOLDEN)}: run UPDATE_GOLDEN=1 node tests/run.mjs tests/schema`);
        const golden = JSON.parse(fs.readFileSync(GOLDEN, "utf8")) as Schema;
        const diff = jsonDiff(golden as never, JSON.parse(text) as never);
        if (diff.length > 0) {
            const shown = diff.slice(0, 60).join("\n");
            const more = diff.length > 60 ? `\n… and ${diff.length - 60} more` : "";
            assert.fail(
                `the public API changed (golden → now):\n${shown}${more}\n` +
                    "If intended, run UPDATE_GOLDEN=1 node tests/run.mjs tests/schema and commit tests/schema/schema.golden.json.",
            );
        }
    });
});

describe("plugin entry", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, "package.json"), "utf8")) as {
        main?: string;
        types?: string;
        exports?: Record<string, { types?: string; default?: string } | string>;
    };

    it("PulumiPlugin.yaml declares the nodejs runtime", () => {
        const text = fs.readFileSync(path.join(PACKAGE_DIR, "PulumiPlugin.yaml"), "utf8");
        assert.match(text, /^runtime:\s*nodejs\s*$/m);
    });

    it("the language host's require(<package dir>) reaches the provider entry; importers get the library", () => {
        // Pulumi's nodejs plugin runner loads `main`; with the library entry there it would host the components
        // under the provider name `components` (from @hybridinfra/components), not `hybridinfra`.
        assert.equal(pkg.main, "lib/provider.js");
        assert.deepEqual(pkg.exports?.["."], { types: "./lib/index.d.ts", default: "./lib/index.js" });
        assert.equal(pkg.types, "lib/index.d.ts");
        assert.ok(fs.existsSync(path.join(SRC, "provider.ts")));
    });
});
