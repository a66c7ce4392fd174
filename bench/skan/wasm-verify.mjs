// Times attrib-skan's plain wasm32 exports (examples/wasm_bench.rs) under Node's WebAssembly,
// the engine family workerd runs: verifications per second and CPU time per verification, each
// beside reading alone (the baseline) from the same run.
//   node bench/skan/wasm-verify.mjs <wasm_bench.wasm> [iterations=2000]
import { readFile } from 'node:fs/promises';

const [file, n = '2000'] = process.argv.slice(2);
const iterations = Number(n);
const { instance } = await WebAssembly.instantiate(await readFile(file), {});
const wasm = instance.exports;

{
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (wasm.first_verify_skan() !== 1) throw new Error('first verification failed');
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `first verification in a fresh instance (builds tables)  ${((performance.now() - t0) * 1000).toFixed(0)} µs wall   ` +
      `${cpu.user + cpu.system} µs CPU`,
  );
}

function time(label, run) {
  if (run(200) !== 200) throw new Error(`${label}: the sample must pass before it is timed`);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const ok = run(iterations);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (ok !== iterations) throw new Error(`${label}: ${ok} of ${iterations} passed`);
  const cpuUs = (cpu.user + cpu.system) / iterations;
  console.log(
    `${label.padEnd(44)} ${(iterations / (wallMs / 1000)).toFixed(0).padStart(10)} /s   ` +
      `${((wallMs * 1000) / iterations).toFixed(2).padStart(8)} µs wall   ${cpuUs.toFixed(2).padStart(8)} µs CPU each`,
  );
}

console.log(`wasm32 under Node ${process.version}, ${iterations} iterations each`);
time('SKAN 4.0: parse + signed string (baseline)', wasm.parse_skan);
time("SKAN 4.0: p256's generic verify (baseline)", wasm.generic_verify_skan);
time('SKAN 4.0: parse + verify + record', wasm.verify_skan);
time('AAK: parse (baseline)', wasm.parse_aak);
time('AAK: parse + verify + record', wasm.verify_aak);
