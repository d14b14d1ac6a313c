/**
 * The five transfer strategies by name: the one list every side (engine, CLI, editor, panel)
 * reads. Pure data; imports nothing.
 */
export const STRATEGY_KINDS = ['ftl', 'ttl', 'tf', 'lwft', 'probe'] as const;
export type StrategyKind = (typeof STRATEGY_KINDS)[number];
