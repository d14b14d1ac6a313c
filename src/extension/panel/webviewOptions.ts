/**
 * The one place webview options are made: scripts on, local resources from media/ and dist/,
 * plus the folders a panel shows images from (run folders, for Grad-CAM overlays).
 */
import * as vscode from 'vscode';

export function getWebviewOptions(extensionUri: vscode.Uri, extraRoots: readonly vscode.Uri[] = []): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media'), vscode.Uri.joinPath(extensionUri, 'dist'), ...extraRoots],
  };
}

/** A fresh nonce for a Content-Security-Policy. */
export function getNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 32; i++) s += chars.charAt(Math.floor(Math.random() * chars.length));
  return s;
}
