/** Command, view and setting identifiers, as declared in package.json. No `vscode` here. */

export const COMMANDS = {
  newExperiment: 'ttl.newExperiment',
  runExperiment: 'ttl.runExperiment',
  runSearch: 'ttl.runSearch',
  analyzeRun: 'ttl.analyzeRun',
  analyzeFtlRun: 'ttl.analyzeFtlRun',
  gradCam: 'ttl.gradCam',
  gradCamOfRun: 'ttl.gradCamOfRun',
  cancelJob: 'ttl.cancelJob',
  openModelExplorer: 'ttl.openModelExplorer',
  compareRuns: 'ttl.compareRuns',
  exportModel: 'ttl.exportModel',
  selectBackend: 'ttl.selectBackend',
  checkTorch: 'ttl.checkTorch',
  showLogs: 'ttl.showLogs',
  resumeRun: 'ttl.resumeRun',
  openSummary: 'ttl.openSummary',
  openCharts: 'ttl.openCharts',
  openSearchReport: 'ttl.openSearchReport',
  deleteRun: 'ttl.deleteRun',
  revealRun: 'ttl.revealRun',
  revealRunInOS: 'ttl.revealRunInOS',
  openExperimentFile: 'ttl.openExperimentFile',
  refresh: 'ttl.refresh',
  clearFinishedJobs: 'ttl.clearFinishedJobs',
  fetchWeights: 'ttl.fetchWeights',
  openExample: 'ttl.openExample',
} as const;

export const VIEWS = {
  container: 'ttlStudio',
  experiments: 'ttl.experiments',
  jobs: 'ttl.jobs',
} as const;

/** Context keys the manifest's `when` clauses read. */
export const CONTEXT_KEYS = {
  /** Paths of the experiment files with a `search` section. */
  searchExperiments: 'ttl.searchExperiments',
  /** Whether a job is queued or running. */
  jobsActive: 'ttl.jobsActive',
} as const;

export const PANELS = {
  modelExplorer: 'ttl.modelExplorer',
} as const;

export const SETTINGS = {
  section: 'ttl',
  backend: 'backend',
  runsDirectory: 'runsDirectory',
  maxParallelJobs: 'maxParallelJobs',
  searchWorkers: 'searchWorkers',
  wasmThreads: 'wasmThreads',
  pythonPath: 'pythonPath',
  device: 'device',
} as const;

export const BACKENDS = ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'webgpu', 'torch'] as const;
export type BackendSetting = (typeof BACKENDS)[number];

export const BACKEND_DESCRIPTIONS: Record<BackendSetting, string> = {
  auto: "the experiment file's train.backend (by default auto: TTL: Check PyTorch Engine tells what it picks here)",
  wasm: 'WebAssembly with SIMD and threads; works everywhere, no install',
  cpu: 'plain JavaScript; slow, for debugging',
  tensorflow: 'native TensorFlow on the CPU (needs @tensorflow/tfjs-node installed)',
  'tensorflow-gpu': 'native TensorFlow with CUDA (needs @tensorflow/tfjs-node-gpu and a CUDA GPU)',
  webgpu: 'WebGPU (needs the webgpu package and a GPU)',
  torch: 'PyTorch in your Python (ttl.pythonPath) on ttl.device: CUDA, Apple MPS or the CPU; runs and resumes only',
};

/** Backends the CLI's search, analyze and gradcam commands take (the TensorFlow.js ones). */
export const TFJS_BACKENDS: readonly BackendSetting[] = BACKENDS.filter((b) => b !== 'torch');

/** What `ttl.device` accepts (as train.device in the experiment schema). */
export const DEVICE_PATTERN = /^(auto|cpu|mps|cuda(:[0-9]+)?)$/;

/** Run-store and job files the sidebar watches. */
export const WATCHED_RUN_FILES = '**/{run.json,summary.json,metrics.jsonl,search.json}';
