/**
 * `npm run lab -- up|down|status`: builds, removes or shows the lab (see lab/README.md). Needs root on Linux.
 */
import { acquireLabLock, labDown, LabError, labStatus, labUnavailableReason, labUp } from "./lab";
import { LAB_HOSTS, ROUTER_LAN, ROUTER_PUBLIC } from "./topology";

const USAGE = "usage: npm run lab -- up|down|status";

async function main(argv: readonly string[]): Promise<number> {
    const cmd = argv[0];
    if (argv.length !== 1 || !["up", "down", "status"].includes(cmd)) {
        console.error(USAGE);
        return 2;
    }
    const reason = labUnavailableReason();
    if (reason !== undefined) {
        console.error(`lab ${cmd}: ${reason}`);
        return 1;
    }
    if (cmd === "status") {
        const rows = labStatus();
        for (const r of rows) {
            console.log(`${r.name.padEnd(7)} ${r.address.padEnd(14)} sshd ${r.sshd ? "answers" : "DOWN   "}  wg: ${r.wgInterfaces.length > 0 ? r.wgInterfaces.join(" ") : "-"}`);
        }
        console.log(`router  ${ROUTER_PUBLIC} / ${ROUTER_LAN} (NAT for the home LAN; ssh port forwards: ${LAB_HOSTS.filter((h) => h.forwardedSshPort !== undefined).map((h) => `${h.forwardedSshPort}->${h.name}`).join(", ")})`);
        return rows.every((r) => r.sshd) ? 0 : 1;
    }
    const release = await acquireLabLock(60_000);
    try {
        if (cmd === "up") await labUp();
        else await labDown();
    } finally {
        release();
    }
    return 0;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
        console.error(err instanceof LabError ? `lab: ${err.message}` : err);
        process.exit(1);
    },
);
