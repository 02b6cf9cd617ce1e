/**
 * Workspaces: what one unlocked vault holds while it is open, and the one registry of them that
 * the CLI and the server share. app.ts builds each workspace; this folder only keeps them.
 */
export { createWorkspaces } from './registry.ts';
export type { BuildWorkspace, BuiltWorkspace, Workspaces } from './registry.ts';
export { recordEvent } from './workspace.ts';
export type { StopReason, Workspace, WorkspaceService } from './workspace.ts';
