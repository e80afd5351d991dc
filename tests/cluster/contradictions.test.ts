// Issue 16 §1 and §4 at the component: HybridCluster used alone (without the stack config) gets the same
// cross-key checks, before anything is registered, every problem at once; a secret datastore endpoint is
// checked for its form without ever being shown.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { planCluster, HybridCluster, HybridClusterArgs, HostRole, IngressMode, OverlayKind } from "../../components/src/cluster";
import { Datastore } from "../../components/src/k3s";
import { HybridInfraConfigErrors } from "../../components/src/util/errors";
import { preferredAddress } from "../../components/src/wireguard";
import { runProgram } from "../../infra/program";
import { loadStack, PROJECT } from "../../tools/stack";
import { record } from "../harness/mocks";
import { TEST_KEY } from "../harness/fixtures";
import { composeMessage } from "../harness/config";

const base = (): HybridClusterArgs => ({
    sshPrivateKey: pulumi.secret(TEST_KEY),
    hosts: [
        { name: "cloud", ssh: { address: "203.0.113.10" }, location: "cloud", publicEndpoint: "203.0.113.10", roles: [HostRole.Hub, HostRole.Server] },
        { name: "home", ssh: { address: "192.168.50.10" }, location: "home", roles: [HostRole.Agent] },
    ],
    apps: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["web.example.com"] }],
});

/** `base` with an external datastore whose endpoint is a plain string (the component used alone). */
const external = (endpoint: string): HybridClusterArgs => ({ ...base(), k3s: { datastore: Datastore.External }, datastoreEndpoint: endpoint });

const messageOf = composeMessage;

async function rejectsBeforeRegistering(args: HybridClusterArgs, message: string): Promise<void> {
    const rec = await record(() => {
        assert.throws(
            () => new HybridCluster("c", args),
            (e: Error) => {
                assert.equal(e.message, message);
                return true;
            },
        );
    });
    assert.deepEqual(rec.resources.map((r) => r.type).filter((t) => t !== "pulumi:pulumi:Stack"), [], "nothing is registered for a bad spec");
}

describe("HybridCluster alone rejects §1 contradictions before registering anything", () => {
    it("the base spec composes (baseline)", () => {
        assert.equal(messageOf(base()), undefined);
    });

    it("a WireGuard-only overlay key under Tailscale (overlay.mtu)", async () => {
        const args = { ...base(), overlay: { kind: OverlayKind.Tailscale, mtu: 1380 }, tailscaleAuthKey: "tskey" };
        args.hosts[0] = { ...args.hosts[0], roles: [HostRole.Server] };
        await rejectsBeforeRegistering(
            args,
            'overlay.mtu: is 1380, but overlay.kind is "tailscale": HybridInfra does not set the tailscale0 MTU, so it has no effect; only overlay.kind "wireguard" uses it. Fix: remove overlay.mtu, or set overlay.kind: wireguard',
        );
    });

    it("k3s.disable [traefik] with the default ingress", async () => {
        await rejectsBeforeRegistering(
            { ...base(), k3s: { disable: ["traefik"] } },
            'k3s.disable[0]: is "traefik", but ingress.mode is "traefik" (the default), which serves every app through k3s\'s packaged Traefik: with Traefik disabled every app answers 404 or 502. Fix: remove "traefik" from k3s.disable (every ingress.mode routes through the packaged Traefik)',
        );
    });

    it("two apps named alike (today the engine fails halfway through registration)", async () => {
        const args = base();
        args.apps!.push({ name: "web", image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["www.example.com"] });
        await rejectsBeforeRegistering(
            args,
            'apps[1].name: is "web", the name of apps[0] too; each app\'s Pulumi resources and Kubernetes objects are named after it, in any namespace, so the second would replace the first. Fix: give apps[1] a name no other app has',
        );
    });

    it("an appended pin on an earlier host's derived address", async () => {
        const args = base();
        args.hosts.push({ name: "nas", ssh: { address: "192.168.50.11" }, location: "home", roles: [HostRole.Agent], overlayAddress: preferredAddress("home", "10.100.0.0/24") });
        await rejectsBeforeRegistering(
            args,
            'hosts[2].overlayAddress: is "10.100.0.163", the address hosts[1] ("home") derives from its name; pinning it on "nas" moves "home" from 10.100.0.163 to 10.100.0.164, and adding a machine must never move another. Fix: pin a free address such as 10.100.0.1, or remove hosts[2].overlayAddress',
        );
    });

    it("an SSH address inside the service CIDR (own example of overlapping plans)", async () => {
        const args = { ...base(), k3s: { serviceCidr: "192.168.50.0/24" } };
        await rejectsBeforeRegistering(
            args,
            'hosts[1].ssh.address: is "192.168.50.10", inside k3s.serviceCidr (192.168.50.0/24): once k3s runs, that address is routed to services, so pulumi up can no longer reach "home" over SSH. Fix: set k3s.serviceCidr to a block that holds no SSH address, e.g. 10.43.0.0/24, or reach the host at another address',
        );
    });

    it("more than 100 replicas (the component's own check, same bound as the schema)", async () => {
        const args = base();
        args.apps![0] = { ...args.apps![0], replicas: 101 };
        await rejectsBeforeRegistering(
            args,
            "apps[0].replicas: is more than 100, got 101 (kubelet runs at most 110 pods per node, and a cluster of a few machines leaves such a count mostly Pending). Fix: set replicas from 1 to 100 (2 or more to keep serving while a site is down)",
        );
        args.apps![0] = { ...args.apps![0], replicas: 100 };
        assert.equal(messageOf(args), undefined);
    });

    it("reports every problem at once", () => {
        const args = { ...base(), overlay: { loginServer: "https://headscale.example.com" }, k3s: { disable: ["traefik"] } };
        args.apps!.push({ name: "web", image: "nginx:1.27", ports: [{ containerPort: 80 }], hostnames: ["www.example.com"] });
        assert.throws(
            () => planCluster(args),
            (e: unknown) => {
                assert.ok(e instanceof HybridInfraConfigErrors, String(e));
                assert.deepEqual(
                    e.errors.map((x) => x.path),
                    ["overlay.loginServer", "k3s.disable[0]", "apps[1].name"],
                );
                assert.ok(e.message.startsWith("3 problems in the config:\n  - overlay.loginServer: "), e.message);
                return true;
            },
        );
    });
});

describe("§1 a datastoreEndpoint secret is checked for its form, never shown", () => {
    const FIX =
        "set it in k3s's form: `mysql://user:pass@tcp(host:3306)/k3s`, `postgres://user:pass@host:5432/k3s` or `https://etcd1:2379,https://etcd2:2379` (see https://docs.k3s.io/datastore)";
    const cases: [string, string, string][] = [
        [
            "the issue's example: a MySQL URL without tcp(host:port)",
            "mysql://k3s:s3cret-pw@db.lan:3306/k3s",
            "datastoreEndpoint: is a mysql:// URL without its address in tcp(host:port) followed by /database (the value is a secret and is not shown)",
        ],
        [
            "a Postgres URL whose password is not percent-encoded",
            "postgres://k3s:s3cret#pw@db.lan:5432/k3s",
            "datastoreEndpoint: is a postgres:// URL that does not parse (percent-encode special characters of the user and password) (the value is a secret and is not shown)",
        ],
        [
            "own example: an etcd list whose second entry has no scheme",
            "https://etcd1.lan:2379,etcd2.lan:2379",
            "datastoreEndpoint: has entry 2 of 2 in its comma-separated etcd list, which is not an http(s)://host:port URL (the value is a secret and is not shown)",
        ],
        [
            "own example: a bare host:port",
            "s3cret-db.lan:3306",
            "datastoreEndpoint: starts with no datastore scheme (expected mysql://, postgres://, postgresql://, or https:// / http:// for etcd) (the value is a secret and is not shown)",
        ],
        [
            "own example: a trailing newline from a file",
            "mysql://k3s:s3cret-pw@tcp(db.lan:3306)/k3s\n",
            "datastoreEndpoint: contains whitespace or a line break (e.g. a trailing newline from `pulumi config set --secret … < file`) (the value is a secret and is not shown)",
        ],
    ];
    for (const [what, value, problem] of cases) {
        it(`rejects ${what}`, async () => {
            const message = `${problem}. Fix: ${FIX}`;
            await rejectsBeforeRegistering(external(value), message);
            assert.ok(!message.includes("s3cret") && !message.includes("db.lan"), "no part of the secret is shown");
        });
    }

    it("accepts k3s's MySQL, Postgres and etcd forms", () => {
        for (const ok of [
            "mysql://k3s:pw@tcp(db.lan:3306)/k3s",
            "postgres://k3s:p%23w@db.lan:5432/k3s?sslmode=require",
            "postgresql://k3s:pw@db.lan/k3s",
            "https://etcd1.lan:2379,https://etcd2.lan:2379,https://etcd3.lan:2379",
        ]) {
            assert.equal(messageOf(external(ok)), undefined, ok);
        }
    });

    it("the stack program checks the secret it reads, without showing it", async () => {
        const loaded = loadStack("ha-homelab", { datastoreEndpoint: "mysql://k3s:s3cret-pw@db.lan:3306/k3s" });
        await record(
            () => {
                assert.throws(
                    () => runProgram(),
                    (e: Error) => {
                        assert.equal(
                            e.message,
                            `datastoreEndpoint: is a mysql:// URL without its address in tcp(host:port) followed by /database (the value is a secret and is not shown). Fix: ${FIX}`,
                        );
                        return true;
                    },
                );
            },
            { config: loaded.config, secretKeys: loaded.secretKeys, project: PROJECT, stack: "ha-homelab" },
        );
    });
});

describe("§4 Tailscale with a cloud forward", () => {
    it("is rejected with the true reason before anything is registered (it used to fail on the forward's targets)", async () => {
        const args: HybridClusterArgs = {
            ...base(),
            overlay: { kind: OverlayKind.Tailscale },
            tailscaleAuthKey: "tskey",
            ingress: { mode: IngressMode.CloudForward, forwardHost: "cloud" },
        };
        args.hosts[0] = { ...args.hosts[0], roles: [HostRole.Ingress] };
        args.hosts[1] = { ...args.hosts[1], roles: [HostRole.Server] };
        await rejectsBeforeRegistering(
            args,
            'ingress.mode: is "cloud-forward", but overlay.kind is "tailscale": the forward\'s rules need the servers\' overlay addresses when the plan is made, and Tailscale assigns them only when each host joins the tailnet. Fix: use overlay.kind wireguard with cloud-forward, or keep Tailscale with ingress.mode cloudflare-tunnel, or with ingress.mode traefik and a k3s node that has a publicEndpoint',
        );
    });
});

describe("§4 keepalive and MTU bounds at the component: same constants, each edge", () => {
    const MTU_FIX =
        "use 1420 (the default), or a lower value such as 1412 or 1400 behind PPPoE or DS-Lite links; below 1280 IPv6 cannot cross the tunnel, above 8920 no 9000-byte jumbo frame can carry it";
    const KA_FIX = "use 25 (keeps NAT mappings open on common routers), or leave overlay.keepalive out to send keepalives from hosts behind NAT only";
    const withOverlay = (overlay: { keepalive?: number; mtu?: number }, hostMtu?: number): HybridClusterArgs => {
        const args = { ...base(), overlay };
        if (hostMtu !== undefined) args.hosts[1] = { ...args.hosts[1], mtu: hostMtu };
        return args;
    };
    it("keepalive 0 and 65536 are rejected, 1 and 65535 accepted", () => {
        assert.equal(messageOf(withOverlay({ keepalive: 0 })), `overlay.keepalive: must be an integer from 1 to 65535 seconds, got 0. Fix: ${KA_FIX}`);
        assert.equal(messageOf(withOverlay({ keepalive: 65536 })), `overlay.keepalive: must be an integer from 1 to 65535 seconds, got 65536. Fix: ${KA_FIX}`);
        assert.equal(messageOf(withOverlay({ keepalive: 1 })), undefined);
        assert.equal(messageOf(withOverlay({ keepalive: 65535 })), undefined);
    });
    it("MTU 1279 and 8921 are rejected, 1280 and 8920 accepted, overlay-wide and per host", () => {
        assert.equal(messageOf(withOverlay({ mtu: 1279 })), `overlay.mtu: must be an integer from 1280 to 8920, got 1279. Fix: ${MTU_FIX}`);
        assert.equal(messageOf(withOverlay({ mtu: 8921 })), `overlay.mtu: must be an integer from 1280 to 8920, got 8921. Fix: ${MTU_FIX}`);
        assert.equal(messageOf(withOverlay({}, 1279)), `hosts[1].mtu: must be an integer from 1280 to 8920, got 1279. Fix: ${MTU_FIX}`);
        assert.equal(messageOf(withOverlay({}, 8921)), `hosts[1].mtu: must be an integer from 1280 to 8920, got 8921. Fix: ${MTU_FIX}`);
        for (const v of [1280, 8920]) {
            assert.equal(messageOf(withOverlay({ mtu: v })), undefined, `overlay.mtu ${v}`);
            assert.equal(messageOf(withOverlay({}, v)), undefined, `hosts[1].mtu ${v}`);
        }
    });
});
