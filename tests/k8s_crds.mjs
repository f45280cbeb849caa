// Validates prometheus-operator objects (monitoring.coreos.com/v1) against the CRD schemas
// that @kubernetes-models/prometheus-operator compiles (types, patterns, required fields).
// stdin: a JSON array of objects; stdout: a JSON array, one error message (or null) each.
// Usage: node tests/k8s_crds.mjs MODELS_DIR < objects.json   (MODELS_DIR: .cache/k8s-models)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const root = join(process.argv[2], "node_modules/@kubernetes-models/prometheus-operator");
const models = await import(pathToFileURL(join(root, "monitoring.coreos.com/v1/index.js")));
const objects = JSON.parse(readFileSync(0, "utf8"));
const results = objects.map((object) => {
  const Model = models[object.kind];
  if (object.apiVersion !== "monitoring.coreos.com/v1" || typeof Model !== "function") {
    return `no schema for ${object.apiVersion} ${object.kind}`;
  }
  try {
    new Model(object).validate();
    return null;
  } catch (error) {
    return `${object.kind} ${object.metadata?.name}: ${error.message}`;
  }
});
process.stdout.write(JSON.stringify(results));
