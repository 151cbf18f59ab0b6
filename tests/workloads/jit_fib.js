// JIT-compiled JavaScript for the JIT frames test: fib runs as optimised
// code (no unwind info, frame pointers kept); run with --perf-basic-prof so
// V8 names it in /tmp/perf-<pid>.map. Prints "node ok <pid>".
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
const end = Date.now() + Number(process.argv[2] || 1.5) * 1000;
let s = 0;
while (Date.now() < end) s += fib(22);
console.log(`node ok ${process.pid} ${s > 0}`);
