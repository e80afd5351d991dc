/**
 * npm run doctor -- --stack <name> [--ssh-key FILE | --ssh-key CONFIGKEY=FILE ...] [--skip k3s,files] [--json]
 *
 * Connects to every host of a stack with the stack's own SSH settings and reports one line per host and one
 * per overlay link, each problem with its likely cause and the fix (see tools/doctor-lib.ts). Read-only.
 * Exits 0 when everything is healthy, 1 when something is wrong, 2 on a usage or config error.
 *
 * The stack file holds no secrets: `--ssh-key FILE` gives the private key for `sshPrivateKey` (the
 * cluster's key), `--ssh-key name=FILE` the one for a host's `ssh.privateKeyConfig: name`.
 */
import * as fs from "node:fs";
import { listStacks } from "./stack";
import { CheckGroup, formatReport, runDoctor } from "./doctor-lib";

const USAGE = "usage: npm run doctor -- --stack <name> [--ssh-key FILE | --ssh-key CONFIGKEY=FILE ...] [--skip k3s,files] [--json]";

async function main(): Promise<number> {
    const args = process.argv.slice(2);
    let stack: string | undefined;
    let json = false;
    const skip: CheckGroup[] = [];
    const extraConfig: Record<string, string> = {};
    const groups = Object.values(CheckGroup) as string[];
    for (let i = 0; i < args.length; i++) {
        const a = args[i];
        const value = () => {
            const v = args[++i];
            if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
            return v;
        };
        if (a === "--stack") stack = value();
        else if (a === "--json") json = true;
        else if (a === "--skip") {
            for (const g of value().split(",")) {
                if (!groups.includes(g)) throw new Error(`--skip ${g}: not a check group (groups: ${groups.join(", ")})`);
                skip.push(g as CheckGroup);
            }
        } else if (a === "--ssh-key") {
            const v = value();
            const eq = v.indexOf("=");
            const [key, file] = eq > 0 && !fs.existsSync(v) ? [v.slice(0, eq), v.slice(eq + 1)] : ["sshPrivateKey", v];
            if (!fs.existsSync(file)) {
                const lab = file.startsWith("/var/tmp/hil-lab/") ? " (the lab writes it when it is built: `sudo npm run lab -- up`)" : "";
                throw new Error(`--ssh-key: ${file} does not exist${lab}`);
            }
            extraConfig[key] = fs.readFileSync(file, "utf8");
        } else throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
    if (stack === undefined) throw new Error(`${USAGE}\nstacks: ${listStacks().join(", ")}`);
    if (extraConfig.sshPrivateKey === undefined) {
        throw new Error(
            `no SSH key: the stack file holds none (sshPrivateKey is a secret in the Pulumi config).\n` +
                `Pass the key the hosts accept: --ssh-key ~/.ssh/id_ed25519 (in the lab: --ssh-key /var/tmp/hil-lab/id_ed25519)`,
        );
    }
    const report = await runDoctor(stack, { extraConfig, skip });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.ok ? 0 : 1;
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(e instanceof Error ? e.message : String(e));
        process.exit(2);
    },
);
