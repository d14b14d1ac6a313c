// Job worker entry (filled in by the job runner).
export {};
