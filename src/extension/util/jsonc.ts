/** jsonc-parser for the extension: the engine's wrapper (one import path that bundles). */
export * from '../../engine/jsonc';
