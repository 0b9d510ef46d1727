// The same tests in Chromium: the platform-neutral unit cases (cases.js) and the whole
// conformance suite run in headless Chromium on its WebCrypto; every case must pass there and
// every vector must have the same outcome as in Node. Fails (never skips) without Chromium.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as lib from "@ok2cry/client";
import { cases } from "./cases.js";
import { runInChromium } from "./chromium.js";
import { runConformance } from "./conformance.js";
import { loadData } from "./data.js";

const { vectors } = loadData();
const [browser, inNode] = await Promise.all([runInChromium(), runConformance(lib, vectors)]);

test("chromium: it is Chromium that ran them", () => {
  assert.match(browser.userAgent, /Chrome\//);
});

test("chromium: every vector has the outcome the file names", () => {
  assert.deepEqual(browser.conformance.failures, []);
  assert.deepEqual(browser.conformance.counts, inNode.counts);
});

test("chromium: every vector has the same outcome as in Node", () => {
  assert.deepEqual(browser.conformance.outcomes, inNode.outcomes);
});

test("chromium: every unit case ran", () => {
  assert.deepEqual(browser.unit.map(([name]) => name), cases.map(([name]) => name));
});

for (const [name, result] of browser.unit) {
  test(`chromium: ${name}`, () => assert.equal(result, "ok"));
}
