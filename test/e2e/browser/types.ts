// Types for the browser-level checks (test/e2e/browser/*.check.ts).
//
// playwright-core lives in the harness install (test/e2e/.vscode-server), not in the project's
// node_modules, so the project's type check cannot see its types. These interfaces describe the
// subset of Playwright's API the checks use; they match Playwright's own signatures, so extend
// them with further members of Playwright's Page/Locator/FrameLocator as checks need them.

export interface Locator {
  click(options?: { timeout?: number; button?: 'left' | 'right' | 'middle'; clickCount?: number }): Promise<void>;
  dblclick(options?: { timeout?: number }): Promise<void>;
  fill(value: string, options?: { timeout?: number }): Promise<void>;
  press(key: string, options?: { timeout?: number }): Promise<void>;
  pressSequentially(text: string, options?: { delay?: number; timeout?: number }): Promise<void>;
  hover(options?: { timeout?: number }): Promise<void>;
  waitFor(options?: { state?: 'attached' | 'detached' | 'visible' | 'hidden'; timeout?: number }): Promise<void>;
  isVisible(): Promise<boolean>;
  count(): Promise<number>;
  first(): Locator;
  last(): Locator;
  nth(index: number): Locator;
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
  filter(options: { hasText?: string | RegExp; has?: Locator }): Locator;
  getByText(text: string | RegExp, options?: { exact?: boolean }): Locator;
  getByRole(role: string, options?: { name?: string | RegExp; exact?: boolean }): Locator;
  textContent(options?: { timeout?: number }): Promise<string | null>;
  innerText(options?: { timeout?: number }): Promise<string>;
  allInnerTexts(): Promise<string[]>;
  getAttribute(name: string, options?: { timeout?: number }): Promise<string | null>;
  screenshot(options?: { path?: string; timeout?: number }): Promise<Buffer>;
  evaluate<R, A>(fn: (element: Element, arg: A) => R, arg: A): Promise<R>;
}

export interface FrameLocator {
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
  frameLocator(selector: string): FrameLocator;
  getByText(text: string | RegExp, options?: { exact?: boolean }): Locator;
  getByRole(role: string, options?: { name?: string | RegExp; exact?: boolean }): Locator;
}

export interface Keyboard {
  press(key: string, options?: { delay?: number }): Promise<void>;
  type(text: string, options?: { delay?: number }): Promise<void>;
  insertText(text: string): Promise<void>;
  down(key: string): Promise<void>;
  up(key: string): Promise<void>;
}

export interface ConsoleMessage {
  type(): string;
  text(): string;
}

export interface Page {
  goto(url: string, options?: { timeout?: number; waitUntil?: 'load' | 'domcontentloaded' | 'networkidle' | 'commit' }): Promise<unknown>;
  url(): string;
  title(): Promise<string>;
  reload(options?: { timeout?: number }): Promise<unknown>;
  close(): Promise<void>;
  isClosed(): boolean;
  locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
  frameLocator(selector: string): FrameLocator;
  getByText(text: string | RegExp, options?: { exact?: boolean }): Locator;
  getByRole(role: string, options?: { name?: string | RegExp; exact?: boolean }): Locator;
  waitForSelector(selector: string, options?: { state?: 'attached' | 'detached' | 'visible' | 'hidden'; timeout?: number }): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
  waitForFunction(fn: string | (() => unknown), arg?: unknown, options?: { timeout?: number; polling?: number | 'raf' }): Promise<unknown>;
  evaluate<R>(fn: string | (() => R | Promise<R>)): Promise<R>;
  screenshot(options?: { path?: string; fullPage?: boolean; timeout?: number }): Promise<Buffer>;
  keyboard: Keyboard;
  on(event: 'console', listener: (message: ConsoleMessage) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
  setDefaultTimeout(ms: number): void;
}

/** What run.ts hands each check. Every check gets a fresh tab (`page`). */
export interface CheckContext {
  page: Page;
  /** Base URL of the running code-server, e.g. http://127.0.0.1:40123 (no trailing slash). */
  serverUrl: string;
  /** Opens the fixture workspace with the extension under development loaded. */
  workbenchUrl: string;
  /** Absolute path of the fixture workspace copy that code-server serves. */
  workspace: string;
  /** Saves a PNG of the page as test/e2e/screenshots/<name>.png and returns its path. */
  screenshot(name: string): Promise<string>;
  /** Prints a line under the check's name. */
  log(message: string): void;
}

export interface BrowserCheck {
  name: string;
  /** Hard limit for this check (default 120 s). */
  timeoutMs?: number;
  run(ctx: CheckContext): Promise<void>;
}
