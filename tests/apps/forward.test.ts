import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PublicIngressForward, PublicIngressForwardArgs } from "../../components/src/ingress";
import { publicIngressForwardInternals } from "../../components/src/ingress/forward";
import { planForward } from "../../components/src/ingress/plan";
import { renderForwardScript } from "../../components/src/ingress/render";
import { record, settle } from "../harness/mocks";
import { ExposedApp, exposedAppInternals } from "../../components/src/apps";
import { assertAllOnProvider, clusterProvider } from "./helpers";
import { assertHostScript, assertShellcheck, assertShellcheckAll, extractProgram } from "../harness/shellcheck";
import { shellFilesIn, templatesForShellcheck } from "../harness/shellFiles";
import { TEST_KEY } from "../harness/fixtures";

const CMD = "command:remote:Command";
const edge: PublicIngressForwardArgs = {
    name: "edge",
    address: "203.0.113.7",
    privateKey: TEST_KEY,
    targets: ["10.100.0.2", "10.100.0.3"],
    overlayInterface: "wg0",
};

describe("PublicIngressForward (cloud node forwarding to a private cluster)", () => {
    // The step's bash lives in .sh files next to components/src/ingress/render.ts (templates, see
    // components/src/host/shellTemplate.ts); what the step renders from them is checked below and, byte for
    // byte, by the stacks' golden renders.
    it("every .sh file next to the forward code passes shellcheck on its own (step bodies after the host prelude)", () => {
        const { dir, files } = shellFilesIn("ingress");
        assert.deepEqual(files, ["forward-script.sh", "ingress-forward.sh"]);
        const scripts = templatesForShellcheck(dir, files);
        assert.deepEqual([...scripts.keys()], ["forward-script.sh#script", "forward-script.sh#functions", "forward-script.sh#remove", "forward-script.sh#boot", "ingress-forward.sh#create", "ingress-forward.sh#delete"]);
        assertShellcheckAll(scripts);
    });

    it("registers one ingress-forward step whose create and delete scripts pass shellcheck", async () => {
        const rec = await record(() => {
            const f = new PublicIngressForward("home", edge);
            return publicIngressForwardInternals(f);
        });
        const step = rec.find(CMD, "home-ingress-forward");
        assert.equal(step.parent, "home");
        assert.equal(step.inputs.connection.host, "203.0.113.7");
        assert.ok(rec.isSecret(step, "connection"), "the SSH connection (private key) is secret");
        for (const text of rec.plainStrings(step)) assert.ok(!text.includes("PRIVATE KEY"), "private key leaked");
        const create = extractProgram(step.inputs.create);
        const del = extractProgram(step.inputs.delete);
        assertHostScript({ script: create, command: step.inputs.create }, "ingress-forward create");
        assertHostScript({ script: del, command: step.inputs.delete }, "ingress-forward delete");
        assert.equal(step.inputs.update, step.inputs.create);

        const { plan } = rec.result as ReturnType<typeof publicIngressForwardInternals>;
        assert.match(plan.chains.dnat, /^HI-FWD-DNAT-[0-9a-f]{8}$/);
        // The rule script installed on the node holds every rule, checked before it is added.
        for (const port of [80, 443]) {
            assert.ok(create.includes(`hi_fwd_rule nat "$DNAT" -p tcp --dport ${port} -m statistic --mode random --probability 0.50000 -j DNAT --to-destination 10.100.0.2:${port}`));
            assert.ok(create.includes(`hi_fwd_rule nat "$DNAT" -p tcp --dport ${port} -j DNAT --to-destination 10.100.0.3:${port}`));
            assert.ok(create.includes(`hi_fwd_rule nat "$SNAT" -d 10.100.0.2/32 -p tcp --dport ${port} -m conntrack --ctstate DNAT -j MASQUERADE`));
            assert.ok(create.includes(`hi_fwd_rule filter "$FILTER" -o wg0 -d 10.100.0.3/32 -p tcp --dport ${port} -m conntrack --ctstate DNAT -j ACCEPT`));
        }
        assert.match(create, /hi_fwd_jump nat PREROUTING -i "\$PUBLIC" -j "\$DNAT"/);
        assert.match(create, /if hi_fwd_ipt -t "\$table" -C "\$chain" "\$@" 2>\/dev\/null; then return 0; fi\n {2}hi_fwd_ipt -t "\$table" -A "\$chain" "\$@"/);
        assert.match(create, /net\.ipv4\.ip_forward = 1/);
        assert.match(create, /PUBLIC=''/, "the public interface is detected on the host by default");
        assert.match(create, /ip -4 route show default/);
        assert.match(create, /ExecStart=\/usr\/local\/sbin\/hybridinfra-ingress-forward apply/, "rules come back after a reboot");
        assert.match(del, /hi_fwd_prune_jumps nat PREROUTING HI-FWD-DNAT- ""/);
        assert.match(del, /hi_fwd_prune_chains filter HI-FWD-FILT- ""/);
        assert.match(del, /hi_remove_managed_file \/usr\/local\/sbin\/hybridinfra-ingress-forward/);
    });

    it("publishes an app of a private cluster through the cloud node: Ingress on Traefik, forward to the overlay", async () => {
        const rec = await record(() => {
            const provider = clusterProvider();
            const app = new ExposedApp(
                "wiki",
                { image: "requarks/wiki:2.5", replicas: 2, ports: [{ containerPort: 3000, servicePort: 80 }], hostnames: ["wiki.example.com"], placement: { locations: ["home"] }, knownLocations: ["home", "cloud"] },
                { providers: { kubernetes: provider } },
            );
            const forward = new PublicIngressForward("edge", { ...edge, targets: ["10.100.0.2"] }, { dependsOn: [app] });
            return { app, forward };
        });
        const ing = rec.find("kubernetes:networking.k8s.io/v1:Ingress", "wiki-ingress");
        assert.equal(ing.inputs.spec.ingressClassName, "traefik");
        assert.equal(ing.inputs.spec.rules[0].http.paths[0].backend.service.port.number, exposedAppInternals((rec.result as { app: ExposedApp }).app).servicePort);
        assert.equal(rec.find("kubernetes:policy/v1:PodDisruptionBudget", "wiki-pdb").inputs.spec.minAvailable, 1);
        const step = rec.find(CMD, "edge-ingress-forward");
        assert.ok(step.dependencyNames.includes("wiki-ingress"), "the component's dependsOn (expanded to its children) reaches its host step");
        assert.ok(extractProgram(step.inputs.create).includes("--to-destination 10.100.0.2:443"));
        assert.equal(step.provider, "", "the host step is a command resource, not a cluster one");
        assert.deepEqual((await settle((rec.result as { app: ExposedApp }).app.urls)).value, ["http://wiki.example.com/"]);
        assertAllOnProvider(rec, "cluster");
    });

    it("renders a given public interface and other ports, and a standalone script that passes shellcheck", () => {
        const plan = planForward({ ...edge, publicInterface: "ens3", ports: [8443] });
        const script = renderForwardScript(plan);
        assertShellcheck(script, "forward script");
        assert.match(script, /^PUBLIC=ens3$/m);
        assert.ok(script.includes("--dport 8443"));
        assert.ok(!script.includes("--dport 80 "));
        assert.notEqual(plan.chains.dnat, planForward(edge).chains.dnat, "a different rule set gets new chains");
        assert.equal(planForward({ ...edge }).chains.dnat, planForward(edge).chains.dnat, "the same rule set keeps its chains");
    });

    it("applies, re-applies without change, swaps a changed rule set and removes only its own rules (real iptables in a network namespace)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hi-fwd-"));
        const v1 = path.join(dir, "v1.sh");
        const v2 = path.join(dir, "v2.sh");
        fs.writeFileSync(v1, renderForwardScript(planForward(edge)));
        fs.writeFileSync(v2, renderForwardScript(planForward({ ...edge, targets: ["10.100.0.9"] })));
        const program = [
            "set -euo pipefail",
            "export HI_FWD_WAIT=0",
            "ip link add wg0 type veth peer name wg0p && ip link set wg0 up",
            "ip link add eth0 type veth peer name eth0p && ip link set eth0 up",
            "ip addr add 192.0.2.10/24 dev eth0 && ip route add default via 192.0.2.1 dev eth0",
            "iptables -A FORWARD -s 198.51.100.0/24 -j DROP",
            `bash ${v1} apply >/dev/null`,
            `echo "SECOND:$(bash ${v1} apply | grep -c changed: || true)"`,
            "echo RULES1; iptables -t nat -S; iptables -S",
            `bash ${v2} apply >/dev/null`,
            "echo RULES2; iptables -t nat -S; iptables -S",
            `bash ${v2} remove >/dev/null`,
            "echo RULES3; iptables -t nat -S; iptables -S",
        ].join("\n");
        const res = spawnSync("unshare", ["-n", "bash", "-c", program], { encoding: "utf8" });
        fs.rmSync(dir, { recursive: true, force: true });
        assert.equal(res.status, 0, `network namespace run failed (needs root and unshare): ${res.stderr}`);
        const [, afterSecond] = res.stdout.split("SECOND:");
        assert.equal(afterSecond.split("\n")[0], "0", "a second apply changes nothing");
        const [, rules1, rules2, rules3] = res.stdout.split(/RULES\d\n/);
        const c1 = planForward(edge).chains;
        const c2 = planForward({ ...edge, targets: ["10.100.0.9"] }).chains;
        assert.ok(rules1.includes(`-A PREROUTING -i eth0 -j ${c1.dnat}`));
        assert.ok(rules1.includes(`-A POSTROUTING -o wg0 -j ${c1.snat}`));
        assert.match(rules1, new RegExp(`-A ${c1.dnat} -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.100.0.3:443`));
        assert.ok(!rules2.includes(c1.dnat) && !rules2.includes(c1.filter), "the old chains and jumps are gone");
        assert.ok(rules2.includes(`-A ${c2.dnat} -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.100.0.9:80`));
        assert.ok(!rules3.includes("HI-FWD-"), "remove leaves none of its chains or jumps");
        assert.ok(rules3.includes("-A FORWARD -s 198.51.100.0/24 -j DROP"), "a rule it does not own is kept");
    });
});
