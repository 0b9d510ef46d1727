// The vector files, read in Node.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = new URL("../../../", import.meta.url);

/** tests/vectors/<name> of the repository. */
export const vectorPath = (name) => fileURLToPath(new URL(`tests/vectors/${name}`, root));

export function loadData() {
  return {
    vectors: JSON.parse(readFileSync(vectorPath("protocol-v1.json"), "utf8")),
    python: JSON.parse(readFileSync(vectorPath("python-cryptography.json"), "utf8")),
  };
}
