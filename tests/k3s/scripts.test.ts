// The k3s steps' bash lives in .sh files next to components/src/k3s/scripts.ts and backup.ts (templates, see
// components/src/host/shellTemplate.ts): each file on its own through shellcheck. What the steps render from
// them is checked by render.test.ts, backup.test.ts and, byte for byte, by the snapshots here and the
// stacks' golden renders.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { assertShellcheckAll } from "../harness/shellcheck";
import { shellFilesIn, templatesForShellcheck } from "../harness/shellFiles";

describe("k3s shell templates", () => {
    it("every .sh file next to the k3s code passes shellcheck on its own (step bodies after the host prelude)", () => {
        const { dir, files } = shellFilesIn("k3s");
        assert.deepEqual(files, ["k3s-backup.sh", "k3s-drain.sh", "k3s-install.sh", "k3s-kubeconfig.sh", "k3s-node.sh", "k3s-sqlite-backup.sh", "k3s-token-rotate.sh", "node-remove.sh"]);
        const scripts = templatesForShellcheck(dir, files);
        assert.ok(scripts.has("k3s-install.sh#ready-agent") && scripts.has("k3s-sqlite-backup.sh"), [...scripts.keys()].join(", "));
        assertShellcheckAll(scripts);
    });
});
