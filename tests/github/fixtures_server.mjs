// fixtures_server.mjs: @octokit/fixtures-server on 127.0.0.1 only.
//
// Usage: node fixtures_server.mjs NODE_MODULES_DIR [CUSTOM_FIXTURES_DIR]
// Mounts the package's Express middleware (never its bin/server.js, which
// listens on every interface) on a server bound to 127.0.0.1:0, with the
// recorded scenarios plus every *.json in CUSTOM_FIXTURES_DIR (same format
// as the package's normalized-fixture.json; the file name is the scenario).
// Prints the port on one line, then serves until stdin closes (the test
// that started it exits or closes the pipe) or SIGTERM arrives.
import { createRequire } from "node:module";
import { readdirSync, readFileSync } from "node:fs";
import { join, basename } from "node:path";
import { pathToFileURL } from "node:url";
import http from "node:http";

const [modules, customDir] = process.argv.slice(2);
if (!modules) {
  console.error("usage: fixtures_server.mjs NODE_MODULES_DIR [FIXTURES_DIR]");
  process.exit(2);
}
const require = createRequire(join(modules, "noop.js"));
const load = async (name) => import(pathToFileURL(require.resolve(name)).href);

const express = (await load("express")).default;
const pkg = join(modules, "@octokit", "fixtures-server");
const middleware = (await import(pathToFileURL(join(pkg, "index.js")).href)).default;
const defaults = (await import(pathToFileURL(join(pkg, "lib", "defaults.js")).href)).default;

const fixtures = { ...defaults.fixtures };
if (customDir) {
  for (const f of readdirSync(customDir).filter((n) => n.endsWith(".json")))
    fixtures[basename(f, ".json")] = JSON.parse(readFileSync(join(customDir, f), "utf8"));
}

const app = express();
const server = http.createServer(app);
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  // The base URL must be known before the middleware rewrites recorded
  // URLs (Link, Location), so it is mounted once the port is bound.
  app.use(middleware({
    port,
    fixturesUrl: `http://127.0.0.1:${port}`,
    logLevel: "silent",
    ttl: 120000,
    fixtures,
  }));
  process.stdout.write(`${port}\n`);
});

const stop = () => { server.closeAllConnections?.(); server.close(); process.exit(0); };
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
