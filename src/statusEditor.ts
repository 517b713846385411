/**
 * Which editor the status bar speaks for. Focus on a panel (the Output, the debug console) leaves VS Code
 * with no active text editor, or with the panel's own (an `output:` document); the status bar then keeps the
 * state of the last text editor the user was in, as long as it is still on screen, instead of looking off.
 * No editor API here: the extension passes its editors in.
 */
export interface EditorLike {
  document: { uri: { scheme: string } };
}

/** Schemes of the documents VS Code shows in panels, not in the editor area. */
const PANEL_SCHEMES = new Set(['output', 'debug', 'vscode-terminal']);

export class StatusEditor<E extends EditorLike> {
  private last: E | undefined;

  /** The editor to show the state of, given the active one and those on screen. */
  pick(active: E | undefined, visible: readonly E[]): E | undefined {
    if (active && !PANEL_SCHEMES.has(active.document.uri.scheme)) {
      this.last = active;
      return active;
    }
    if (this.last && !visible.includes(this.last)) this.last = undefined;
    return this.last;
  }
}
