// The demo: loads mlp.onnx and schools.onnx (from ./models/, or ?models=URL) and runs them
// with onnxruntime-web. window.demo holds what the page last drew (read by the end-to-end
// test): {updates, error, latest: {mlp: {...}, schools: {...}}}.
/* global ort */
const CLASS_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c'];
const GRID = 64; // decision-region grid per side
const EXTENT = 1.2; // the plane shown is [-EXTENT, EXTENT]^2
const SCHOOLS_Y = [28, 8, -3, 7, -1, 1, 18, 12];
const MU = Float64Array.from({ length: 241 }, (_, i) => -20 + i * 0.25);

const demo = (window.demo = { updates: 0, error: null, latest: {} });
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const modelBase = new URL(params.get('models') ?? './models/', location.href);

ort.env.wasm.wasmPaths = new URL('../../node_modules/onnxruntime-web/dist/', location.href).href;
ort.env.wasm.numThreads = 1;

// One run at a time per session (onnxruntime-web refuses concurrent runs); while one
// runs, only the newest request waits.
function serialized(fn) {
  let running = null;
  let pending = null;
  return function request() {
    if (running) {
      pending = true;
      return running;
    }
    running = (async () => {
      do {
        pending = false;
        await fn();
      } while (pending);
      running = null;
    })().catch(fail);
    return running;
  };
}

function fail(err) {
  demo.error = String(err && err.message ? err.message : err);
  $('status').textContent = `error: ${demo.error}`;
  $('status').classList.add('error');
}

function updated() {
  demo.updates += 1;
  $('status').textContent = `${demo.updates} model runs drawn`;
}

// -- MLP classifier ----------------------------------------------------------------------
function gridPoints() {
  const xy = new Float32Array(GRID * GRID * 2);
  for (let i = 0; i < GRID; i++) {
    for (let j = 0; j < GRID; j++) {
      const k = 2 * (i * GRID + j);
      xy[k] = -EXTENT + (2 * EXTENT * (j + 0.5)) / GRID;
      xy[k + 1] = EXTENT - (2 * EXTENT * (i + 0.5)) / GRID;
    }
  }
  return xy;
}

function toCanvas(canvas, x, y) {
  return [((x + EXTENT) / (2 * EXTENT)) * canvas.width, ((EXTENT - y) / (2 * EXTENT)) * canvas.height];
}

function drawRegions(probs) {
  const canvas = $('mlp-canvas');
  const ctx = canvas.getContext('2d');
  const cell = canvas.width / GRID;
  const rgb = CLASS_COLORS.map((c) => [1, 3, 5].map((o) => parseInt(c.slice(o, o + 2), 16)));
  for (let i = 0; i < GRID * GRID; i++) {
    const mix = [0, 1, 2].map((ch) => rgb.reduce((s, col, k) => s + col[ch] * probs[3 * i + k], 0));
    const light = mix.map((v) => Math.round(255 - 0.45 * (255 - v)));
    ctx.fillStyle = `rgb(${light.join(',')})`;
    ctx.fillRect((i % GRID) * cell, Math.floor(i / GRID) * cell, cell + 0.5, cell + 0.5);
  }
  for (const [x, y, label] of demo.trainingPoints ?? []) {
    const [px, py] = toCanvas(canvas, x, y);
    ctx.fillStyle = CLASS_COLORS[label];
    ctx.beginPath();
    ctx.arc(px, py, 2.2, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function drawPoint(x, y) {
  const ctx = $('mlp-canvas').getContext('2d');
  const [px, py] = toCanvas($('mlp-canvas'), x, y);
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(px, py, 7, 0, 2 * Math.PI);
  ctx.stroke();
}

function drawBars(p) {
  const canvas = $('bars');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const h = canvas.height - 24;
  const w = canvas.width / 3;
  ctx.font = '12px DejaVu Sans, sans-serif';
  p.forEach((v, k) => {
    ctx.fillStyle = CLASS_COLORS[k];
    ctx.fillRect(k * w + 12, 4 + h * (1 - v), w - 24, h * v);
    ctx.fillStyle = '#222';
    ctx.fillText(`class ${k}`, k * w + 24, canvas.height - 6);
  });
  $('prob-labels').innerHTML = p
    .map((v, k) => `<li data-label>p(class ${k}) = ${v.toFixed(4)}</li>`)
    .join('');
}

async function runMlp(session) {
  const x = Number($('x1').value);
  const y = Number($('x2').value);
  const grid = demo.grid ?? (demo.grid = gridPoints());
  const input = new Float32Array(grid.length + 2);
  input.set(grid);
  input.set([x, y], grid.length);
  const out = await session.run({ x: new ort.Tensor('float32', input, [GRID * GRID + 1, 2]) });
  const probs = out.probs.data;
  drawRegions(probs);
  drawPoint(x, y);
  const p = Array.from(probs.slice(3 * GRID * GRID));
  drawBars(p);
  $('point-label').textContent = `point (${x.toFixed(2)}, ${y.toFixed(2)}) → class ${p.indexOf(Math.max(...p))}`;
  demo.latest.mlp = { point: [x, y], probs: p, gridProbs: Array.from(probs.slice(0, 3 * GRID * GRID)) };
}

// -- eight schools -----------------------------------------------------------------------
function axes(ctx, canvas, pad) {
  ctx.strokeStyle = '#999';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(pad, 6);
  ctx.lineTo(pad, canvas.height - pad);
  ctx.lineTo(canvas.width - 6, canvas.height - pad);
  ctx.stroke();
}

function drawLogp(logp, best) {
  const canvas = $('logp-canvas');
  const ctx = canvas.getContext('2d');
  const pad = 34;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  axes(ctx, canvas, pad);
  const hi = Math.max(...logp);
  const lo = hi - 30; // the 30 log units below the maximum
  const px = (i) => pad + ((canvas.width - pad - 8) * i) / (MU.length - 1);
  const py = (v) => 6 + (canvas.height - pad - 6) * (1 - (Math.max(v, lo) - lo) / (hi - lo));
  ctx.strokeStyle = '#6a3d9a';
  ctx.lineWidth = 2;
  ctx.beginPath();
  logp.forEach((v, i) => (i ? ctx.lineTo(px(i), py(v)) : ctx.moveTo(px(i), py(v))));
  ctx.stroke();
  ctx.strokeStyle = '#bbb';
  ctx.setLineDash([4, 3]);
  ctx.beginPath();
  ctx.moveTo(px(best), 6);
  ctx.lineTo(px(best), canvas.height - pad);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = '#222';
  ctx.font = '11px DejaVu Sans, sans-serif';
  for (const mu of [-20, -10, 0, 10, 20, 30, 40]) {
    ctx.fillText(String(mu), px((mu + 20) / 0.25) - 6, canvas.height - pad + 14);
  }
  ctx.fillText('μ', canvas.width - 16, canvas.height - pad - 4);
  ctx.fillText(`max ${hi.toFixed(2)}`, pad + 4, 16);
  ctx.fillText(`max − 30`, pad + 4, canvas.height - pad - 4);
}

function drawTheta(thetaHat, bestMu) {
  const canvas = $('theta-canvas');
  const ctx = canvas.getContext('2d');
  const pad = 24;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  axes(ctx, canvas, pad);
  const py = (v) => 8 + ((canvas.height - pad - 16) * (32 - v)) / 40; // y in [-8, 32]
  const xRaw = pad + 30;
  const xHat = canvas.width - 40;
  ctx.font = '11px DejaVu Sans, sans-serif';
  ctx.fillStyle = '#222';
  ctx.fillText('y_j', xRaw - 8, canvas.height - 8);
  ctx.fillText('E[θ_j]', xHat - 14, canvas.height - 8);
  SCHOOLS_Y.forEach((y, j) => {
    ctx.strokeStyle = '#8c8c8c';
    ctx.beginPath();
    ctx.moveTo(xRaw, py(y));
    ctx.lineTo(xHat, py(thetaHat[j]));
    ctx.stroke();
    ctx.fillStyle = '#e31a1c';
    ctx.beginPath();
    ctx.arc(xHat, py(thetaHat[j]), 3, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = '#333';
    ctx.beginPath();
    ctx.arc(xRaw, py(y), 3, 0, 2 * Math.PI);
    ctx.fill();
  });
  ctx.strokeStyle = '#6a3d9a';
  ctx.setLineDash([4, 3]);
  ctx.beginPath();
  ctx.moveTo(xRaw, py(bestMu));
  ctx.lineTo(xHat + 10, py(bestMu));
  ctx.stroke();
  ctx.setLineDash([]);
}

async function runSchools(session) {
  const tau = Number($('tau').value);
  const out = await session.run({
    mu: new ort.Tensor('float64', MU, [MU.length]),
    tau: new ort.Tensor('float64', Float64Array.of(tau), []),
  });
  const logp = Array.from(out.logp.data);
  const thetaHat = Array.from(out.theta_hat.data);
  const best = logp.indexOf(Math.max(...logp));
  drawLogp(logp, best);
  drawTheta(thetaHat, MU[best]);
  $('tau-label').textContent = `τ = ${tau.toFixed(1)}`;
  $('schools-label').textContent =
    `best μ = ${MU[best].toFixed(2)}, log p = ${logp[best].toFixed(4)}; ` +
    `E[θ_j] = ${thetaHat.map((v) => v.toFixed(1)).join(', ')}`;
  demo.latest.schools = { tau, mu: Array.from(MU), logp, thetaHat };
}

// -- wiring ------------------------------------------------------------------------------
async function main() {
  $('ort-version').textContent = `onnxruntime-web ${ort.env.versions.web}`;
  const options = { executionProviders: ['wasm'] };
  const load = (name) => ort.InferenceSession.create(new URL(name, modelBase).href, options);
  const [mlp, schools] = await Promise.all([load('mlp.onnx'), load('schools.onnx')]);
  try {
    const response = await fetch(new URL('mlp_points.json', modelBase));
    if (response.ok) demo.trainingPoints = await response.json();
  } catch {
    // The training points are decoration only.
  }
  await runMlp(mlp);
  await runSchools(schools);
  updated();
  const mlpRequest = serialized(async () => {
    await runMlp(mlp);
    updated();
  });
  const schoolsRequest = serialized(async () => {
    await runSchools(schools);
    updated();
  });
  $('x1').addEventListener('input', mlpRequest);
  $('x2').addEventListener('input', mlpRequest);
  $('tau').addEventListener('input', schoolsRequest);
  $('mlp-canvas').addEventListener('click', (event) => {
    const rect = event.target.getBoundingClientRect();
    const x = -EXTENT + (2 * EXTENT * (event.clientX - rect.left)) / rect.width;
    const y = EXTENT - (2 * EXTENT * (event.clientY - rect.top)) / rect.height;
    $('x1').value = x.toFixed(2);
    $('x2').value = y.toFixed(2);
    mlpRequest();
  });
}

main().catch(fail);
