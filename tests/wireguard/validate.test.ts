import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { overlayProblems, Topology, validateOverlay, WireGuardHostArgs, WireGuardMeshArgs, WireGuardMesh } from "../../components/src/wireguard";
import { HybridInfraConfigErrors } from "../../components/src/util/errors";
import { record } from "../harness/mocks";
import { TEST_KEY } from "../harness/fixtures";
import { seedHosts } from "./fixtures";

const home = (name: string, extra: Partial<WireGuardHostArgs> = {}): WireGuardHostArgs => ({ name, address: "192.168.50.20", privateKey: TEST_KEY, location: "home", ...extra });
const withHost = (i: number, patch: Partial<WireGuardHostArgs>): WireGuardHostArgs[] => seedHosts().map((h, j) => (j === i ? { ...h, ...patch } : h));

const withHosts = (patches: Record<number, Partial<WireGuardHostArgs>>): WireGuardHostArgs[] => seedHosts().map((h, j) => ({ ...h, ...patches[j] }));

const cases: [string, WireGuardMeshArgs, string][] = [
    [
        "a LAN overlapping the overlay",
        { hosts: withHost(2, { lan: ["10.100.0.0/25"] }) },
        "hosts[2].lan[0]: 10.100.0.0/25 overlaps the overlay CIDR overlay.cidr (10.100.0.0/24). Fix: advertise only the LAN's own block, outside 10.100.0.0/24, or move overlay.cidr",
    ],
    [
        "a LAN overlapping the pod CIDR",
        { hosts: withHost(3, { lan: ["10.42.8.0/24"] }) },
        "hosts[3].lan[0]: 10.42.8.0/24 overlaps the pod CIDR overlay.podCidr (10.42.0.0/16). Fix: advertise only the LAN's own block, outside 10.42.0.0/16, or move overlay.podCidr",
    ],
    [
        "two hosts advertising overlapping LANs",
        { hosts: withHost(3, { lan: ["192.168.0.0/16"] }) },
        'hosts[3].lan[0]: 192.168.0.0/16 overlaps the LAN hosts[2].lan[0] (192.168.50.0/24) of host "home-pc". Fix: advertise each LAN from one host only (one subnet router per LAN)',
    ],
    [
        "the overlay overlapping the service CIDR",
        { hosts: seedHosts(), cidr: "10.43.0.0/24" },
        "overlay.serviceCidr: 10.43.0.0/16 overlaps the overlay CIDR overlay.cidr (10.43.0.0/24). Fix: choose blocks that do not overlap, e.g. the overlay in 10.100.0.0/24, pods in 10.42.0.0/16, services in 10.43.0.0/16",
    ],
    [
        "pods overlapping services",
        { hosts: seedHosts(), serviceCidr: "10.42.128.0/17" },
        "overlay.serviceCidr: 10.42.128.0/17 overlaps the pod CIDR overlay.podCidr (10.42.0.0/16). Fix: choose blocks that do not overlap, e.g. the overlay in 10.100.0.0/24, pods in 10.42.0.0/16, services in 10.43.0.0/16",
    ],
    [
        "a hub without a public endpoint",
        { hosts: withHost(0, { publicEndpoint: undefined }) },
        'hosts[0].publicEndpoint: is missing, but host "cloud-hub" is a hub (hub: true) that other hosts must reach from the internet. Fix: set publicEndpoint to its public IP or DNS name, or remove hub: true',
    ],
    [
        "hub topology without any hub",
        { hosts: withHost(0, { hub: false }) },
        'hosts: topology "hub" needs a hub, but no host has hub: true (got 4 hosts). Fix: set hub: true on a host with a public endpoint (candidates: cloud-hub, cloud-peer)',
    ],
    [
        "a mesh where two NAT'd hosts have no path",
        { hosts: withHost(0, { hub: false }), topology: Topology.Mesh },
        'hosts[3]: host "home-mac" has no path to host "home-pc" (hosts[2]): both are behind NAT (no endpoint) and no hub can relay between them. Fix: set publicEndpoint on one of them, or set hub: true on a host with a public endpoint to relay',
    ],
    [
        "locations whose gateways are both behind NAT",
        { hosts: [home("home-a"), home("office-a", { location: "office" })], topology: Topology.Locations },
        'hosts[1]: gateway "office-a" of location "office" has no path to gateway "home-a" of location "home" (hosts[0]): both are behind NAT (no endpoint). Fix: give one of the two locations a gateway with a public endpoint (gateway: true on a host with a publicEndpoint)',
    ],
    ["a duplicate host", { hosts: [...seedHosts(), home("home-pc")] }, 'hosts[4].name: duplicates hosts[2].name "home-pc". Fix: give every host a unique name'],
    [
        "an MTU below 1280",
        { hosts: withHost(1, { mtu: 1200 }) },
        "hosts[1].mtu: must be an integer from 1280 to 8920, got 1200. Fix: use 1420 (the default), or a lower value such as 1412 or 1400 behind PPPoE or DS-Lite links; below 1280 IPv6 cannot cross the tunnel, above 8920 no 9000-byte jumbo frame can carry it",
    ],
    [
        "an overlay MTU above 8920",
        { hosts: seedHosts(), mtu: 9000 },
        "overlay.mtu: must be an integer from 1280 to 8920, got 9000. Fix: use 1420 (the default), or a lower value such as 1412 or 1400 behind PPPoE or DS-Lite links; below 1280 IPv6 cannot cross the tunnel, above 8920 no 9000-byte jumbo frame can carry it",
    ],
    ["a CIDR too small", { hosts: seedHosts(), cidr: "10.100.0.0/30" }, "overlay.cidr: 10.100.0.0/30 has room for 2 hosts, got 4 hosts. Fix: use a larger block: a /29 or shorter prefix"],
    ["a CIDR with host bits", { hosts: seedHosts(), cidr: "10.100.0.1/24" }, 'overlay.cidr: has host bits set, got "10.100.0.1/24". Fix: use the network address "10.100.0.0/24"'],
    ["a LAN that is an address", { hosts: withHost(2, { lan: ["192.168.50.1"] }) }, 'hosts[2].lan[0]: is not an IPv4 CIDR, got "192.168.50.1". Fix: write it as network/prefix, e.g. "192.168.50.0/24"'],
    [
        "duplicate pinned addresses",
        { hosts: [withHost(0, { overlayAddress: "10.100.0.5" })[0], ...withHost(1, { overlayAddress: "10.100.0.5" }).slice(1)] },
        'hosts[1].overlayAddress: 10.100.0.5 is already pinned by hosts[0] ("cloud-hub"). Fix: give every host its own address, or remove overlayAddress to derive one',
    ],
    [
        "a pinned address outside the overlay",
        { hosts: withHost(1, { overlayAddress: "10.101.0.5" }) },
        "hosts[1].overlayAddress: 10.101.0.5 is outside the overlay overlay.cidr (10.100.0.0/24). Fix: pin an address from 10.100.0.1 to 10.100.0.254, or remove overlayAddress",
    ],
    ["a pinned broadcast address", { hosts: withHost(1, { overlayAddress: "10.100.0.255" }) }, "hosts[1].overlayAddress: 10.100.0.255 is the broadcast address of 10.100.0.0/24. Fix: pin a host address from 10.100.0.1 to 10.100.0.254"],
    ["a misspelt topology", { hosts: seedHosts(), topology: "mash" as Topology }, 'overlay.topology: must be one of "hub", "mesh", "locations", got "mash". Fix: use "mesh"'],
    [
        "an endpoint with a scheme",
        { hosts: withHost(1, { publicEndpoint: "udp://203.0.113.20" }) },
        'hosts[1].publicEndpoint: is not an IP address or DNS name with an optional :port, got "udp://203.0.113.20". Fix: use the public IP or DNS name only, e.g. "203.0.113.10" or "vpn.example.org:51820"',
    ],
    [
        "two gateways in one location",
        { hosts: [home("home-a", { gateway: true, publicEndpoint: "198.51.100.1" }), home("home-b", { gateway: true })], topology: Topology.Locations },
        'hosts[1].gateway: location "home" already has hosts[0] ("home-a") as gateway. Fix: mark at most one host per location as gateway',
    ],
    [
        "a gateway outside the locations topology",
        { hosts: withHost(1, { gateway: true }) },
        'hosts[1].gateway: only applies to topology "locations", got topology "hub". Fix: remove gateway, or set overlay.topology to "locations"',
    ],
    ["a bad interface name", { hosts: seedHosts(), interfaceName: "wireguard-overlay0" }, 'overlay.interfaceName: must be 1 to 15 letters, digits or "_=+.-", got "wireguard-overlay0". Fix: use a short name such as "wg0"'],
    ["a location that is not a name", { hosts: withHost(2, { location: "Home Office" }) }, "hosts[2].location: must be a lowercase name (letters, digits, '-'), got \"Home Office\". Fix: name where the machine is, e.g. \"tokyo\" or \"home\""],
    ["no hosts", { hosts: [] }, "hosts: is empty, got []. Fix: list at least one machine under hosts"],
    [
        "a location peer whose SSH address cannot be an endpoint",
        { hosts: [home("home-a", { publicEndpoint: "198.51.100.1" }), home("home-b", { address: "fe80::1%eth0" })], topology: Topology.Locations },
        'hosts[1].ssh.address: is the WireGuard endpoint of "home-b" inside location "home", but is not an IP address or DNS name, got "fe80::1%eth0". Fix: use the host\'s LAN address as its SSH address, or set publicEndpoint',
    ],
];

describe("overlay validation", () => {
    for (const [label, args, message] of cases) {
        it(`rejects ${label}, before any host step is registered`, async () => {
            assert.throws(
                () => validateOverlay(args),
                (e: Error) => {
                    assert.equal(e.name, "HybridInfraConfigError");
                    assert.equal(e.message, message);
                    return true;
                },
            );
            const rec = await record(() => {
                assert.throws(() => new WireGuardMesh("bad", args), { message });
            });
            assert.equal(rec.byType("command:remote:Command").length, 0);
            assert.equal(rec.byType("random:index/randomBytes:RandomBytes").length, 0);
        });
    }

    it("accepts the seed topology in every topology, and endpoints with ports or IPv6", () => {
        validateOverlay({ hosts: seedHosts() });
        validateOverlay({ hosts: seedHosts(), topology: Topology.Mesh });
        validateOverlay({ hosts: seedHosts(), topology: Topology.Locations });
        validateOverlay({ hosts: withHost(1, { publicEndpoint: "[2001:db8::1]:51821" }) });
        validateOverlay({ hosts: withHost(1, { publicEndpoint: "peer.example.org:51821", mtu: 1280 }), mtu: 8920 });
        validateOverlay({ hosts: [home("solo")], topology: Topology.Hub });
    });

    it("each of those is the only problem of its config (overlayProblems), and a valid config has none", () => {
        for (const [label, args, message] of cases) assert.deepEqual(overlayProblems(args).map((e) => e.message), [message], label);
        assert.deepEqual(overlayProblems({ hosts: seedHosts(), topology: Topology.Locations }), []);
    });
});

/** The message of one of the single-mistake cases above. */
function messageOf(label: string): string {
    const c = cases.find(([l]) => l === label);
    assert.ok(c, label);
    return c[2];
}

describe("overlay validation: every independent mistake at once", () => {
    it("reports six independent mistakes in one throw, each with the message it has alone, before any host step is registered", async () => {
        const args: WireGuardMeshArgs = {
            hosts: withHosts({ 0: { hub: false }, 1: { mtu: 1200 }, 2: { location: "Home Office" }, 3: { lan: ["10.42.8.0/24"] } }),
            interfaceName: "wireguard-overlay0",
            mtu: 9000,
        };
        const expected = [
            messageOf("a bad interface name"),
            messageOf("an overlay MTU above 8920"),
            messageOf("an MTU below 1280"),
            messageOf("a location that is not a name"),
            messageOf("a LAN overlapping the pod CIDR"),
            messageOf("hub topology without any hub"),
        ];
        assert.deepEqual(overlayProblems(args).map((e) => e.message), expected);
        assert.throws(
            () => validateOverlay(args),
            (e: Error) => {
                assert.ok(e instanceof HybridInfraConfigErrors, e.name);
                assert.deepEqual(e.errors.map((x) => x.message), expected);
                assert.equal(e.message, `6 problems in the config:\n  - ${expected.join("\n  - ")}`);
                return true;
            },
        );
        const rec = await record(() => {
            assert.throws(() => new WireGuardMesh("bad", args), HybridInfraConfigErrors);
        });
        assert.equal(rec.byType("command:remote:Command").length, 0);
    });

    it("reports a mistake in every host, and every operator name problem", () => {
        const problems = overlayProblems({
            hosts: withHosts({ 1: { publicEndpoint: "udp://203.0.113.20" }, 2: { lan: ["192.168.50.1"] }, 3: { overlayAddress: "10.100.0.255" } }),
            operators: [{ name: "home-pc" }, { name: "Laptop" }],
        });
        assert.deepEqual(problems.map((e) => e.path), ["overlay.operators[0].name", "overlay.operators[1].name", "hosts[1].publicEndpoint", "hosts[2].lan[0]", "hosts[3].overlayAddress"]);
        assert.equal(problems[2].message, messageOf("an endpoint with a scheme"));
        assert.equal(problems[3].message, messageOf("a LAN that is an address"));
    });

    it("skips what depends on an invalid value: nothing is checked against an overlay CIDR that does not parse", () => {
        const problems = overlayProblems({
            hosts: withHosts({ 1: { overlayAddress: "10.101.0.5" }, 2: { lan: ["10.100.0.0/25"] } }),
            cidr: "10.100.0.1/24",
        });
        // Neither the pinned address outside the block nor the LAN inside it is measured against a CIDR with host bits.
        assert.deepEqual(problems.map((e) => e.message), [messageOf("a CIDR with host bits")]);
    });

    it("skips gateways and paths under an unknown topology, and the location's endpoint check of an SSH address already reported", () => {
        assert.deepEqual(
            overlayProblems({ hosts: withHosts({ 0: { hub: false }, 1: { gateway: true } }), topology: "mash" as Topology }).map((e) => e.message),
            [messageOf("a misspelt topology")],
        );
        assert.deepEqual(
            overlayProblems({ hosts: [home("home-a", { publicEndpoint: "198.51.100.1" }), home("home-b", { address: "" })], topology: Topology.Locations }).map((e) => e.message),
            ['hosts[1].ssh.address: is empty for host "home-b", got "". Fix: set the SSH address of the machine: a bare IPv4 or IPv6 address or DNS name, without a user or port (those are ssh.user and ssh.port)'],
        );
    });
});
