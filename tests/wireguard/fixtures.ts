import { TEST_KEY } from "../harness/fixtures";
import { interfaceSpecFromPlan, OverlayPlan, renderWgConf, WireGuardHostArgs } from "../../components/src/wireguard";

/** Seed 000's shape: one public hub, one more public cloud VM, two home machines behind NAT. */
export function seedHosts(): WireGuardHostArgs[] {
    return [
        { name: "cloud-hub", address: "203.0.113.10", privateKey: TEST_KEY, location: "tokyo", publicEndpoint: "203.0.113.10", hub: true },
        { name: "cloud-peer", address: "203.0.113.20", privateKey: TEST_KEY, location: "osaka", publicEndpoint: "203.0.113.20" },
        { name: "home-pc", address: "192.168.50.10", privateKey: TEST_KEY, location: "home", lan: ["192.168.50.0/24"] },
        { name: "home-mac", address: "192.168.50.11", privateKey: TEST_KEY, location: "home" },
    ];
}

/** A further home machine, behind NAT, added later. */
export function newHomeHost(): WireGuardHostArgs {
    return { name: "home-nas", address: "192.168.50.12", privateKey: TEST_KEY, location: "home" };
}

/** The wg-quick config of a planned host (`/etc/wireguard/<iface>.conf`), keys as placeholders. */
export function renderWgQuickConfig(plan: OverlayPlan, host: string, publicKeys: Record<string, string>): string {
    return renderWgConf(interfaceSpecFromPlan(plan, host, publicKeys));
}
