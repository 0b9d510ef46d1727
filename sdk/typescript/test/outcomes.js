// Prints the outcome of every vector case (see conformance.js) as one line of JSON, for the
// cross-implementation check in tests/sdk.rs:
//   node test/outcomes.js            in Node
//   node test/outcomes.js --browser  in headless Chromium
import * as lib from "@ok2cry/client";
import { runInChromium } from "./chromium.js";
import { runConformance } from "./conformance.js";
import { loadData } from "./data.js";

const browser = process.argv.includes("--browser");
const result = browser ? (await runInChromium()).conformance : await runConformance(lib, loadData().vectors);
process.stdout.write(`${JSON.stringify({ runtime: browser ? "chromium" : "node", counts: result.counts, outcomes: result.outcomes })}\n`);
