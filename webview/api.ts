/**
 * The webview's side of the message contract (src/shared/panelProtocol.ts): a typed
 * `acquireVsCodeApi`, the state it persists for revival, and senders.
 */
import type { HostMessage, PanelTarget, WebviewMessage } from '../src/shared/panelProtocol';

/** What the webview persists with setState: the serializer revives the panel from `target`. */
export interface SavedState {
  target: PanelTarget;
  /** The run whose curves are shown. */
  selectedRun?: string;
  /** The analysis shown (`<run id>/<analysis name>`). */
  selectedAnalysis?: string;
  /** The run folders picked in the comparison (undefined: the target's, else every finished run). */
  compared?: string[];
  /** The Grad-CAM gallery's order and heatmap opacity (0..1). */
  gradcamSort?: GradCamSort;
  gradcamOpacity?: number;
}

export type GradCamSort = 'newest' | 'least-confident' | 'most-confident' | 'wrong';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): SavedState | undefined;
  setState(state: SavedState): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

export function send(message: WebviewMessage): void {
  vscode.postMessage(message);
}

export function savedState(): SavedState | undefined {
  return vscode.getState();
}

export function saveState(state: SavedState): void {
  vscode.setState(state);
}

export function onHostMessage(handler: (m: HostMessage) => void): void {
  window.addEventListener('message', (e: MessageEvent<HostMessage>) => handler(e.data));
}
