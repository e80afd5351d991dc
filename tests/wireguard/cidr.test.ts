import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fc from "fast-check";
import {
    addressOffset,
    cidr,
    cidrContains,
    cidrContainsCidr,
    cidrOverlaps,
    formatIpv4,
    nthAddress,
    parseCidr,
    parseIpv4,
    usableHostCount,
} from "../../components/src/util/cidr";

describe("IPv4 CIDR helpers", () => {
    it("parses and formats addresses, rejecting malformed ones", () => {
        assert.equal(parseIpv4("10.100.0.1"), 0x0a640001);
        assert.equal(formatIpv4(0xffffffff), "255.255.255.255");
        for (const bad of ["10.100.0", "256.1.1.1", "01.2.3.4", "1.2.3.4 x", "", "a.b.c.d"]) assert.equal(parseIpv4(bad), undefined, bad);
    });
    it("parses CIDRs, canonicalises and reports host bits", () => {
        assert.deepEqual(parseCidr("10.100.0.0/24"), { network: 0x0a640000, prefix: 24, text: "10.100.0.0/24", hostBitsSet: false });
        assert.equal(parseCidr("192.168.50.1/24")?.hostBitsSet, true);
        assert.equal(parseCidr("192.168.50.1/24")?.text, "192.168.50.0/24");
        assert.equal(parseCidr("0.0.0.0/0")?.text, "0.0.0.0/0");
        for (const bad of ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/024", "10.0.0/8"]) assert.equal(parseCidr(bad), undefined, bad);
    });
    it("answers containment and overlap", () => {
        const overlay = cidr("10.100.0.0/24");
        assert.ok(cidrContains(overlay, "10.100.0.255"));
        assert.ok(!cidrContains(overlay, "10.100.1.0"));
        assert.ok(cidrContainsCidr(cidr("10.0.0.0/8"), overlay));
        assert.ok(!cidrContainsCidr(overlay, cidr("10.0.0.0/8")));
        assert.ok(cidrOverlaps(cidr("10.42.0.0/16"), cidr("10.42.7.0/24")));
        assert.ok(!cidrOverlaps(cidr("10.42.0.0/16"), cidr("10.43.0.0/16")));
        assert.equal(nthAddress(overlay, 1), "10.100.0.1");
        assert.equal(addressOffset(overlay, "10.100.0.77"), 77);
        assert.equal(addressOffset(overlay, "10.101.0.77"), undefined);
        assert.throws(() => nthAddress(overlay, 256), /outside 10.100.0.0\/24/);
        assert.equal(usableHostCount(overlay), 254);
        assert.equal(usableHostCount(cidr("10.0.0.0/31")), 0);
    });
    it("overlap is symmetric and agrees with address-by-address containment (property)", () => {
        const block = fc.record({ ip: fc.integer({ min: 0, max: 0xffffffff }), prefix: fc.integer({ min: 20, max: 32 }) }).map(({ ip, prefix }) => cidr(`${formatIpv4(ip)}/${prefix}`));
        fc.assert(
            fc.property(block, block, (a, b) => {
                const o = cidrOverlaps(a, b);
                assert.equal(o, cidrOverlaps(b, a));
                // Blocks overlap exactly when the smaller one's first address lies in the larger one.
                const [big, small] = a.prefix <= b.prefix ? [a, b] : [b, a];
                assert.equal(o, cidrContains(big, small.network));
            }),
        );
    });
});
