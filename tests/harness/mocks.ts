/**
 * Recording mock engine for tests.
 *
 * `record(program, { preview })` runs a Pulumi program in-process under `pulumi.runtime.setMocks` and
 * captures, for every registered resource, its type, name, parent, inputs (with secret-ness), dependencies
 * and provider: what the engine would be asked to do. In preview mode outputs that only a provider could
 * compute stay unknown, as they do under `pulumi preview`.
 */
import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
// Internal SDK modules: the public mocks API does not expose parents, dependencies or secret-ness.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const rpc = require("@pulumi/pulumi/runtime/rpc");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const resproto = require("@pulumi/pulumi/proto/resource_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const structproto = require("google-protobuf/google/protobuf/struct_pb");

export const UNKNOWN: string = rpc.unknownValue;
const SIG: string = rpc.specialSigKey;
const SECRET_SIG: string = rpc.specialSecretSig;

export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    /** URN of the parent, "" for the stack's direct children. */
    readonly parentUrn: string;
    /** Name of the parent resource ("" for the stack). */
    readonly parent: string;
    /** URNs of explicit and implicit dependencies. */
    readonly dependencies: readonly string[];
    /** Names of those dependencies. */
    readonly dependencyNames: readonly string[];
    /** Provider reference (`urn::id`), "" for the default provider. */
    readonly provider: string;
    /** Inputs with secrets unwrapped; unknown values are the string UNKNOWN. */
    readonly inputs: Record<string, any>;
    /** Dotted paths (e.g. `connection.privateKey`) of inputs that are secret; "" would be the whole object. */
    readonly secretPaths: readonly string[];
    readonly additionalSecretOutputs: readonly string[];
    readonly deleteBeforeReplace: boolean;
}

export type OutputFactory = (args: { type: string; name: string; inputs: Record<string, any>; preview: boolean }) => Record<string, any>;
export type CallHandler = (inputs: Record<string, any>) => Record<string, any>;

export interface RecordOptions {
    /** Run as `pulumi preview` (unknown outputs) instead of `pulumi up`. */
    readonly preview?: boolean;
    /** Stack config, e.g. `{ "hybrid-infra:cluster": "{...}" }`. */
    readonly config?: Record<string, string>;
    /** Config keys that are secrets. */
    readonly secretKeys?: string[];
    /** Extra or overriding output factories by resource type token. */
    readonly outputs?: Record<string, OutputFactory>;
    /** Invoke handlers by function token. */
    readonly calls?: Record<string, CallHandler>;
    readonly project?: string;
    readonly stack?: string;
}

/** A deterministic pseudo-random hex string derived from a seed. */
export function fakeHex(seed: string, bytes: number): string {
    let out = "";
    for (let i = 0; out.length < bytes * 2; i++) out += crypto.createHash("sha256").update(`${seed}/${i}`).digest("hex");
    return out.slice(0, bytes * 2);
}

/** Outputs that providers compute, faked deterministically (update mode only). */
export const DEFAULT_OUTPUTS: Record<string, OutputFactory> = {
    "random:index/randomBytes:RandomBytes": ({ name, inputs }) => {
        const hex = fakeHex(name, inputs.length ?? 32);
        return { hex, base64: Buffer.from(hex, "hex").toString("base64") };
    },
    "random:index/randomPassword:RandomPassword": ({ name, inputs }) => ({
        result: `pw${fakeHex(name, 64)}`.slice(0, inputs.length ?? 32),
        bcryptHash: `$2a$10$${fakeHex(`${name}-bcrypt`, 20)}`,
    }),
    "random:index/randomId:RandomId": ({ name, inputs }) => {
        const hex = fakeHex(name, inputs.byteLength ?? 8);
        return { hex, b64Std: Buffer.from(hex, "hex").toString("base64"), dec: BigInt(`0x${hex}`).toString() };
    },
    "tls:index/privateKey:PrivateKey": ({ name }) => ({
        privateKeyPem: `-----BEGIN PRIVATE KEY-----\nFAKE${fakeHex(name, 24)}\n-----END PRIVATE KEY-----\n`,
        privateKeyPemPkcs8: `-----BEGIN PRIVATE KEY-----\nFAKE${fakeHex(name, 24)}\n-----END PRIVATE KEY-----\n`,
        publicKeyPem: `-----BEGIN PUBLIC KEY-----\nFAKE${fakeHex(`${name}-pub`, 24)}\n-----END PUBLIC KEY-----\n`,
        publicKeyOpenssh: `ssh-ed25519 ${Buffer.from(fakeHex(`${name}-ssh`, 32), "hex").toString("base64")}`,
    }),
    "tls:index/selfSignedCert:SelfSignedCert": ({ name }) => ({
        certPem: `-----BEGIN CERTIFICATE-----\nSELF${fakeHex(name, 24)}\n-----END CERTIFICATE-----\n`,
    }),
    "tls:index/locallySignedCert:LocallySignedCert": ({ name }) => ({
        certPem: `-----BEGIN CERTIFICATE-----\nLEAF${fakeHex(name, 24)}\n-----END CERTIFICATE-----\n`,
        // A fixed fake date: a year after the day this fake was written.
        validityEndTime: "2027-12-01T00:00:00Z",
    }),
    "tls:index/certRequest:CertRequest": ({ name }) => ({
        certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nCSR${fakeHex(name, 24)}\n-----END CERTIFICATE REQUEST-----\n`,
    }),
    "command:remote:Command": () => ({ stdout: "", stderr: "" }),
};

let installed: { monitor: any; records: RecordedResource[]; urnToName: Map<string, string>; opts: RecordOptions } | undefined;

function secretPathsOf(value: unknown, prefix: string, out: string[]): unknown {
    if (value !== null && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[SIG] === SECRET_SIG) {
            out.push(prefix);
            return secretPathsOf(obj.value, prefix, []); // nested secrets inside a secret are already covered
        }
        if (Array.isArray(value)) return value.map((v, i) => secretPathsOf(v, `${prefix}${prefix ? "." : ""}${i}`, out));
        const res: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(obj)) res[k] = secretPathsOf(v, `${prefix}${prefix ? "." : ""}${k}`, out);
        return res;
    }
    return value;
}

function markSecret(state: Record<string, any>, keys: readonly string[]): Record<string, any> {
    const out = { ...state };
    for (const k of keys) {
        if (k in out && !(out[k] !== null && typeof out[k] === "object" && out[k][SIG] === SECRET_SIG)) {
            out[k] = { [SIG]: SECRET_SIG, value: out[k] };
        }
    }
    return out;
}

async function registerResource(this: any, req: any, callback: (err: any, res: any) => void): Promise<void> {
    const ctx = installed!;
    try {
        const preview = ctx.opts.preview ?? false;
        const type: string = req.getType();
        const name: string = req.getName();
        // Inputs with secret markers kept, so the state we hand back keeps secret-ness like the engine does.
        const rawInputs: Record<string, any> = rpc.deserializeProperties(req.getObject(), true, true);
        const secretPaths: string[] = [];
        const inputs = secretPathsOf(rawInputs, "", secretPaths) as Record<string, any>;
        const parentUrn: string = req.getParent();
        const urn = this.newUrn(parentUrn, type, name);
        const dependencies: string[] = req.getDependenciesList();
        const additionalSecretOutputs: string[] = req.getAdditionalsecretoutputsList();
        ctx.urnToName.set(urn, name);
        ctx.records.push({
            urn,
            type,
            name,
            custom: req.getCustom(),
            parentUrn,
            parent: ctx.urnToName.get(parentUrn) ?? "",
            dependencies,
            dependencyNames: dependencies.map((d) => ctx.urnToName.get(d) ?? d),
            provider: req.getProvider(),
            inputs,
            secretPaths,
            additionalSecretOutputs,
            deleteBeforeReplace: req.getDeletebeforereplace(),
        });
        let state: Record<string, any> = { ...rawInputs };
        let id: string | undefined;
        if (req.getCustom()) {
            const factory = ctx.opts.outputs?.[type] ?? DEFAULT_OUTPUTS[type];
            if (!preview) {
                id = type.startsWith("pulumi:providers:") ? `${name}-provider-id` : `${name}-id`;
                if (factory) state = { ...state, ...factory({ type, name, inputs, preview }) };
            }
            state = markSecret(state, additionalSecretOutputs);
        }
        const serializedState = await rpc.serializeProperties("", state, { keepOutputValues: false });
        this.resources.set(urn, { urn, id: id ?? null, state: serializedState });
        const response = new resproto.RegisterResourceResponse();
        response.setUrn(urn);
        response.setId(id ?? "");
        response.setObject(structproto.Struct.fromJavaScript(serializedState));
        callback(null, response);
    } catch (err) {
        callback(err, undefined);
    }
}

export interface Recording {
    readonly resources: readonly RecordedResource[];
    /** What the program returned (Outputs are left as Outputs: use `settle`). */
    readonly result: any;
    find(type: string, name: string): RecordedResource;
    byType(type: string): RecordedResource[];
    byName(name: string): RecordedResource;
    /** Every string leaf of a resource's inputs that is not under a secret path. */
    plainStrings(r: RecordedResource): string[];
    isSecret(r: RecordedResource, path: string): boolean;
}

function collectStrings(value: unknown, prefix: string, secretPaths: readonly string[], out: string[]): void {
    if (secretPaths.some((p) => p === prefix || (p === "" && prefix === ""))) return;
    if (typeof value === "string") out.push(value);
    else if (Array.isArray(value)) value.forEach((v, i) => collectStrings(v, `${prefix}${prefix ? "." : ""}${i}`, secretPaths, out));
    else if (value !== null && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) collectStrings(v, `${prefix}${prefix ? "." : ""}${k}`, secretPaths, out);
    }
}

/** Runs `program` under the recording mock engine and returns what it registered. */
export async function record(program: () => unknown, opts: RecordOptions = {}): Promise<Recording> {
    const preview = opts.preview ?? false;
    pulumi.runtime.setAllConfig(opts.config ?? {}, opts.secretKeys ?? []);
    const calls = opts.calls ?? {};
    await pulumi.runtime.setMocks(
        {
            newResource: () => {
                throw new Error("replaced by the recording monitor");
            },
            call: (args) => {
                const handler = calls[args.token];
                if (!handler) throw new Error(`no mock for invoke ${args.token}`);
                return handler(args.inputs);
            },
        },
        opts.project ?? "hybrid-infra",
        opts.stack ?? "test",
        preview,
    );
    const monitor = settings.getMonitor();
    installed = { monitor, records: [], urnToName: new Map(), opts };
    monitor.registerResource = registerResource.bind(monitor);
    const records = installed.records;
    let result: unknown;
    await pulumi.runtime.runInPulumiStack(async () => {
        result = await program();
        return {};
    });
    await settings.waitForRPCs();
    // A second drain: applies resolved late may register more resources.
    await new Promise((r) => setImmediate(r));
    await settings.waitForRPCs();
    const rec: Recording = {
        resources: records,
        result,
        find(type, name) {
            const r = records.find((x) => x.type === type && x.name === name);
            if (!r) throw new Error(`no ${type} named ${name}; registered: ${records.map((x) => `${x.type}::${x.name}`).join(", ")}`);
            return r;
        },
        byType: (type) => records.filter((x) => x.type === type),
        byName(name) {
            const r = records.find((x) => x.name === name);
            if (!r) throw new Error(`no resource named ${name}; registered: ${records.map((x) => x.name).join(", ")}`);
            return r;
        },
        plainStrings(r) {
            const out: string[] = [];
            collectStrings(r.inputs, "", r.secretPaths, out);
            return out;
        },
        isSecret: (r, path) => r.secretPaths.some((p) => p === "" || p === path || path.startsWith(`${p}.`)),
    };
    return rec;
}

export interface Settled<T> {
    readonly value: T | undefined;
    readonly known: boolean;
    readonly secret: boolean;
}

/** Resolves an Output to its value, known-ness and secret-ness. */
export async function settle<T>(o: pulumi.Input<T> | undefined): Promise<Settled<T>> {
    if (!pulumi.Output.isInstance(o)) return { value: o as T, known: true, secret: false };
    const out = o as any;
    const [value, known, secret] = await Promise.all([out.promise(true), out.isKnown, out.isSecret]);
    return { value: known ? value : undefined, known, secret };
}
