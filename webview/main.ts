// Model Explorer panel (filled in with the panel).
export {};
