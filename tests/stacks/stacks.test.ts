import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { listStacks, loadStack } from "../../tools/stack";
import { REDACTED, renderTree, runStack } from "../../tools/render-lib";
import { settle } from "../harness/mocks";
import { assertShellcheckAll } from "../harness/shellcheck";

const SHIPPED = ["hybrid-edge", "private-ingress", "cross-cloud", "ha-homelab", "tailnet", "lab"];
const GOLDEN = path.join(__dirname, "__golden__");

function readTree(dir: string): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else out.set(path.relative(dir, p).split(path.sep).join("/"), fs.readFileSync(p, "utf8"));
        }
    };
    if (fs.existsSync(dir)) walk(dir);
    return out;
}

function firstDiff(a: string, b: string): string {
    const la = a.split("\n");
    const lb = b.split("\n");
    for (let i = 0; i < Math.max(la.length, lb.length); i++) {
        if (la[i] !== lb[i]) return `line ${i + 1}:\n  golden: ${JSON.stringify(lb[i])}\n  render: ${JSON.stringify(la[i])}`;
    }
    return "";
}

describe("shipped stacks", () => {
    it("ships every stack the README describes", () => {
        assert.deepEqual(listStacks(), [...SHIPPED].sort());
    });

    for (const stack of SHIPPED) {
        describe(stack, () => {
            it("previews without error (preview mode: provider outputs unknown)", async () => {
                const { recording, outputs } = await runStack(stack, { preview: true });
                assert.ok(recording.byType("hybridinfra:index:HybridCluster").length === 1);
                assert.ok(recording.byType("command:remote:Command").length > 0);
                assert.equal((await settle(outputs.kubeconfig)).known, false, "the kubeconfig is only known after up");
            });

            it("runs in update mode, with secret kubeconfig and the failover bound", async () => {
                const { recording, outputs } = await runStack(stack);
                const kubeconfig = await settle(outputs.kubeconfig);
                assert.equal(kubeconfig.secret, true);
                assert.match(String(kubeconfig.value), /server: https:\/\/[^\s]+:6443/);
                assert.doesNotMatch(String(kubeconfig.value), /127\.0\.0\.1/);
                const bound = await settle(outputs.failoverBoundSeconds);
                assert.equal(typeof bound.value, "number");
                const addresses = (await settle(outputs.overlayAddresses)).value!;
                const cfg = JSON.parse(loadStack(stack).config["hybrid-infra:cluster"]);
                assert.deepEqual(Object.keys(addresses).sort(), cfg.hosts.map((h: { name: string }) => h.name).sort());
                const urls = (await settle(outputs.appUrls)).value!;
                assert.deepEqual(Object.keys(urls).sort(), (cfg.apps ?? []).map((a: { name: string }) => a.name).sort());
                // Every cluster-side resource goes through the cluster's provider.
                for (const r of recording.resources.filter((x) => x.type.startsWith("kubernetes:"))) {
                    assert.match(r.provider, /pulumi:providers:kubernetes::/, `${r.type} ${r.name} uses the default provider`);
                }
            });

            it("matches its golden render (secrets redacted) and every script passes shellcheck", async () => {
                const { recording } = await runStack(stack);
                const tree = renderTree(recording);
                const dir = path.join(GOLDEN, stack);
                if (process.env.UPDATE_GOLDEN === "1") {
                    fs.rmSync(dir, { recursive: true, force: true });
                    for (const [rel, content] of tree) {
                        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
                        fs.writeFileSync(path.join(dir, rel), content);
                    }
                }
                const golden = readTree(dir);
                const missing = [...golden.keys()].filter((k) => !tree.has(k));
                const added = [...tree.keys()].filter((k) => !golden.has(k));
                assert.deepEqual({ missing, added }, { missing: [], added: [] }, `render tree of ${stack} differs from tests/stacks/__golden__ (UPDATE_GOLDEN=1 npm test -- stacks to accept)`);
                for (const [rel, content] of tree) {
                    const want = golden.get(rel)!;
                    assert.ok(content === want, `${stack}/${rel} differs from golden at ${firstDiff(content, want)}\n(UPDATE_GOLDEN=1 to accept a reviewed change)`);
                }
                assertShellcheckAll(new Map([...tree].filter(([rel]) => rel.endsWith(".sh")).map(([rel, content]) => [`${stack}/${rel}`, content])));
            });

            it("never shows a secret unmarked or unredacted", async () => {
                const loaded = loadStack(stack);
                const { recording } = await runStack(stack);
                const secrets = new Set<string>(loaded.secretKeys.map((k) => loaded.config[k]));
                // Secret material that resources receive: key-like leaves under secret paths, and every value
                // passed to a host on stdin (decoded). Addresses inside a secret connection are not secrets.
                const SECRET_LEAF = /privateKey|Pem$|secret|token|password|authKey|Endpoint$|^stringData\.|^data\./i;
                const walk = (v: unknown, p: string, r: (typeof recording.resources)[number]) => {
                    if (typeof v === "string") {
                        if (!recording.isSecret(r, p)) return;
                        if (p === "stdin") {
                            for (const line of v.split("\n").filter(Boolean)) secrets.add(Buffer.from(line.split(" ")[1] ?? "", "base64").toString("utf8"));
                        } else if (SECRET_LEAF.test(p.split(".").pop() ?? "") || SECRET_LEAF.test(p)) {
                            // A certificate next to its key (a TLS Secret's tls.crt) is public.
                            if (v.length >= 12 && !/^-----BEGIN CERTIFICATE/.test(v)) secrets.add(v);
                        }
                    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${p}${p ? "." : ""}${i}`, r));
                    else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, `${p}${p ? "." : ""}${k}`, r);
                };
                for (const r of recording.resources) walk(r.inputs, "", r);
                for (const s of [...secrets]) if (s.length < 12) secrets.delete(s);
                assert.ok(secrets.size >= loaded.secretKeys.length, "the scan found the secrets it looks for");
                for (const s of [...secrets]) {
                    if (s.includes("\n")) for (const line of s.split("\n")) if (line.length >= 12 && !/^-----(BEGIN|END) /.test(line)) secrets.add(line);
                    secrets.add(Buffer.from(s).toString("base64"));
                }
                const tree = renderTree(recording);
                const texts: [string, string][] = [
                    ...recording.resources.flatMap((r) => recording.plainStrings(r).map((t): [string, string] => [`${r.type} ${r.name}`, t])),
                    ...[...tree].map(([k, v]): [string, string] => [`render ${k}`, v]),
                ];
                for (const [where, text] of texts) {
                    for (const s of secrets) assert.ok(!text.includes(s), `a secret value appears in clear in ${where}`);
                }
                assert.ok(tree.get("resources.json")!.includes(`"${REDACTED}"`), "secret inputs are shown redacted");
            });
        });
    }

    it("`npm run render -- --stack hybrid-edge` writes the per-host tree", () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "render-"));
        const res = spawnSync("npm", ["run", "-s", "render", "--", "--stack", "hybrid-edge", "--out", out], { encoding: "utf8" });
        assert.equal(res.status, 0, res.stderr);
        assert.match(res.stdout, /rendered stack hybrid-edge/);
        for (const h of ["cloud-vm", "home-mac-vm", "home-pc"]) assert.ok(fs.existsSync(path.join(out, "hosts", h)), `no hosts/${h}`);
        assert.ok(fs.existsSync(path.join(out, "resources.json")));
        fs.rmSync(out, { recursive: true, force: true });
    });
});
