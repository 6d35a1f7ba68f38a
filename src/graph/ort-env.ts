// Runs before onnxruntime-node's native library loads (session.ts imports this module first, and
// session.ts is the one place that imports ONNX Runtime). onnxruntime-node 1.30 ships usage
// telemetry that is on by default: it writes a device id and an SQLite event queue under
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime, a $TMPDIR/mat-debug-<pid>.log per process, and
// uploads to the vendor's events endpoint a few seconds after the first session. The runtime reads
// ORT_DISABLE_TELEMETRY when it initialises, so setting it here turns all of that off for the CLI,
// the server and library users alike. (A program that imports onnxruntime-node itself before
// tsvlm must set the variable itself.)
process.env.ORT_DISABLE_TELEMETRY = '1';

export {};
