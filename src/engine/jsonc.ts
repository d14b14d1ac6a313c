/**
 * jsonc-parser through its ES module build: its UMD entry loads its parts with a dynamic
 * `require` that a bundler cannot follow.
 */
export {
  parseTree,
  findNodeAtLocation,
  getNodeValue,
  getNodePath,
  getLocation,
  printParseErrorCode,
  modify,
  applyEdits,
  createScanner,
  visit,
  SyntaxKind,
  ScanError,
  ParseErrorCode,
} from 'jsonc-parser/lib/esm/main';
export type { Node as JsonNode, ParseError, JSONPath, Edit as JsonEdit } from 'jsonc-parser/lib/esm/main';
