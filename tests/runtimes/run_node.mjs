// Run ONNX models in onnxruntime-node: `node run_node.mjs job.json results.json`.
// job.json: {"cases": [{"id", "model": "/path/m.onnx", "inputs": {name: tensor}}]}, tensors as
// in tensor_json.mjs. results.json: [{"id", "outputs": {name: tensor}} | {"id", "error"}].
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { runCases } from './tensor_json.mjs';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

const [jobPath, resultPath] = process.argv.slice(2);
const job = JSON.parse(await readFile(jobPath, 'utf8'));
const options = { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 };
const results = await runCases(ort, job.cases, (c) => ort.InferenceSession.create(c.model, options));
await writeFile(resultPath, JSON.stringify({ version: ort.env.versions, results }));
