// The Tailscale steps' bash lives in .sh files next to components/src/tailscale/render.ts (templates, see
// components/src/host/shellTemplate.ts): each file on its own through shellcheck. What the steps render from
// them is checked by tailscale.test.ts and, byte for byte, by the stacks' golden renders.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { assertShellcheckAll } from "../harness/shellcheck";
import { shellFilesIn, templatesForShellcheck } from "../harness/shellFiles";

describe("Tailscale shell templates", () => {
    it("every .sh file next to the Tailscale code passes shellcheck on its own (step bodies after the host prelude)", () => {
        const { dir, files } = shellFilesIn("tailscale");
        assert.deepEqual(files, ["ts-install.sh", "ts-up.sh"]);
        const scripts = templatesForShellcheck(dir, files);
        assert.deepEqual([...scripts.keys()], ["ts-install.sh#install", "ts-up.sh#up", "ts-up.sh#forwarding", "ts-up.sh#down"]);
        assertShellcheckAll(scripts);
    });
});
