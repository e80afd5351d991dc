// The provider entry as the Pulumi engine meets it: started as a process, it prints its gRPC port and
// answers GetSchema with the finalized schema, the one committed as the golden file. (No Pulumi CLI here:
// the test speaks the provider protocol itself with the SDK's generated gRPC client.)
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import * as fs from "node:fs";
import * as path from "node:path";
import * as providerGrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as providerPb from "@pulumi/pulumi/proto/provider_pb";

// grpc-js as the SDK itself resolves it (a dependency of @pulumi/pulumi, not of this project).
const grpc = createRequire(require.resolve("@pulumi/pulumi"))("@grpc/grpc-js") as typeof import("@grpc/grpc-js");

const ROOT = path.resolve(__dirname, "../..");
const ENTRY = path.join(ROOT, "components/src/provider.ts");
const GOLDEN = path.join(__dirname, "schema.golden.json");

describe("provider entry over gRPC", () => {
    let child: ChildProcess;
    let port: number;
    let stderr = "";
    before(async () => {
        child = spawn(process.execPath, ["--import", "tsx", ENTRY], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
        port = await new Promise<number>((resolve, reject) => {
            let out = "";
            child.stdout!.on("data", (d: Buffer) => {
                out += d.toString();
                const m = /^(\d+)\s*$/m.exec(out);
                if (m) resolve(Number(m[1]));
            });
            child.on("exit", (code) => reject(new Error(`provider exited (${code}) before printing its port:\n${out}\n${stderr}`)));
        });
    });
    after(() => {
        if (child.exitCode === null) child.kill("SIGTERM");
    });

    it("prints a port and serves GetSchema with the hybridinfra schema", async () => {
        const client = new providerGrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        try {
            const req = new providerPb.GetSchemaRequest();
            req.setVersion(0);
            const res = await new Promise<providerPb.GetSchemaResponse>((resolve, reject) =>
                client.getSchema(req, (err: Error | null, r: providerPb.GetSchemaResponse) => (err ? reject(err) : resolve(r))),
            );
            const served = JSON.parse(res.getSchema()) as { name: string; resources: Record<string, unknown> };
            assert.equal(served.name, "hybridinfra");
            assert.ok(fs.existsSync(GOLDEN), "no golden schema yet: run UPDATE_GOLDEN=1 node tests/run.mjs tests/schema/schema");
            assert.deepEqual(served, JSON.parse(fs.readFileSync(GOLDEN, "utf8")), "the served schema differs from the golden file");
        } finally {
            client.close();
        }
    });
});
