/**
 * The Kubernetes component flag lists in components/src/k3s/flags.ts must equal the flag sets of the real
 * binaries (`<binary> --help`, built by `bash tools/kube/build.sh` at the version flags.ts names): a
 * misspelled, stale or missing name fails here.
 *
 * Without the binaries this file skips, unless HYBRIDINFRA_REQUIRE_CONTROLPLANE=1 (set by .ci/run).
 * kubelet (KUBELET_FLAGS, Kubernetes KUBELET_FLAGS_VERSION) is built only for its `--help`; it never runs.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import {
    KUBE_APISERVER_FLAGS,
    KUBE_COMPONENT_CLI_ONLY_FLAGS,
    KUBE_COMPONENT_FLAGS_VERSION,
    KUBE_CONTROLLER_MANAGER_FLAGS,
    KUBE_SCHEDULER_FLAGS,
    KUBELET_FLAGS,
    KUBELET_FLAGS_VERSION,
} from "../../components/src/k3s/flags";
import { BUILD_HINT, KUBE_BIN_DIR } from "../harness/controlplane";

const required = process.env.HYBRIDINFRA_REQUIRE_CONTROLPLANE === "1";

/** binary, its list in flags.ts, the Kubernetes minor the list names, whether build.sh builds the binary. */
const LISTS: [string, readonly string[], string, boolean][] = [
    ["kube-apiserver", KUBE_APISERVER_FLAGS, KUBE_COMPONENT_FLAGS_VERSION, true],
    ["kube-controller-manager", KUBE_CONTROLLER_MANAGER_FLAGS, KUBE_COMPONENT_FLAGS_VERSION, true],
    ["kube-scheduler", KUBE_SCHEDULER_FLAGS, KUBE_COMPONENT_FLAGS_VERSION, true],
    ["kubelet", KUBELET_FLAGS, KUBELET_FLAGS_VERSION, true],
];

/** Long flag names in a Kubernetes component's `--help` (one flag per line: `  -h, --name type   text`). */
export function parseHelpFlags(help: string): Set<string> {
    const names = new Set<string>();
    for (const line of help.split("\n")) {
        const m = /^\s+(?:-[A-Za-z], )?--([a-z0-9][a-z0-9-]*)(?=[\s=]|$)/.exec(line);
        if (m) names.add(m[1]);
    }
    return names;
}

function run(binary: string, arg: string): string {
    const r = spawnSync(path.join(KUBE_BIN_DIR, binary), [arg], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
    assert.equal(r.error, undefined, `${binary} ${arg}: ${String(r.error)}`);
    assert.equal(r.status, 0, `${binary} ${arg} exited ${r.status}: ${r.stderr}`);
    return r.stdout + r.stderr;
}

describe("parseHelpFlags", () => {
    it("reads long names, with or without a shorthand, and ignores description lines", () => {
        const help = [
            "Generic flags:",
            "",
            "      --advertise-address ip     The IP address on which to advertise.",
            "      --feature-gates mapStringBool   A set of key=value pairs:",
            "                AllAlpha=true|false (ALPHA - default=false)",
            "  -h, --help                    help for kube-apiserver",
            "  -v, --v Level                 number for the log level verbosity",
            "      --tls-sni-cert-key namedCertKey   Default: []. Examples: --tls-sni-cert-key \"x\"",
        ].join("\n");
        assert.deepEqual([...parseHelpFlags(help)].sort(), ["advertise-address", "feature-gates", "help", "tls-sni-cert-key", "v"]);
    });
});

for (const [binary, list, minor, built] of LISTS) {
    const bin = path.join(KUBE_BIN_DIR, binary);
    const have = existsSync(bin);
    describe(`${binary} flags (Kubernetes ${minor})`, () => {
        if (!have && !built) {
            it(`skipped: ${bin} missing (tools/kube/build.sh does not build ${binary})`, { skip: true }, () => {});
            return;
        }
        if (!have && !required) {
            it(`skipped: ${bin} missing; ${BUILD_HINT} (HYBRIDINFRA_REQUIRE_CONTROLPLANE=1 makes this a failure)`, { skip: true }, () => {});
            return;
        }

        it(`the binary is Kubernetes ${minor}`, () => {
            assert.ok(have, `${bin} missing; ${BUILD_HINT}`);
            const version = run(binary, "--version").trim();
            assert.match(version, /^Kubernetes v\d+\.\d+\.\d+$/, version);
            assert.ok(version.startsWith(`Kubernetes ${minor}.`), `${version} is not ${minor}.x`);
        });

        it("the list in components/src/k3s/flags.ts equals the binary's --help flags", () => {
            assert.ok(have, `${bin} missing; ${BUILD_HINT}`);
            const fromHelp = parseHelpFlags(run(binary, "--help"));
            assert.ok(fromHelp.size > 20, `parsed only ${fromHelp.size} flags from ${binary} --help`);
            for (const f of KUBE_COMPONENT_CLI_ONLY_FLAGS) {
                assert.ok(fromHelp.has(f), `${binary} --help lists --${f}`);
                fromHelp.delete(f);
            }
            assert.equal(new Set(list).size, list.length, "no duplicate names in the list");
            const listed = new Set(list);
            const unknown = list.filter((f) => !fromHelp.has(f));
            const unlisted = [...fromHelp].filter((f) => !listed.has(f)).sort();
            assert.deepEqual({ unknown, unlisted }, { unknown: [], unlisted: [] }, `flags.ts vs ${binary} --help`);
        });
    });
}
