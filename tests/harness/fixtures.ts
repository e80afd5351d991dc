import * as crypto from "node:crypto";

/** A real OpenSSH-format ed25519 private key, generated per test run (never a committed key). */
export function testPrivateKey(): string {
    const { privateKey } = crypto.generateKeyPairSync("ed25519");
    return privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

export const TEST_KEY = testPrivateKey();
