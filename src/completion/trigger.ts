/**
 * Trigger stage: whether a request may go on, from the enable map, the trigger mode and how it was asked.
 */
import { CompletionSettings, isEnabledFor } from './settings';

/** automatic: the editor asked while the user typed; manual: the user asked (command, Alt+\). */
export type TriggerKind = 'automatic' | 'manual';

/** go: generate if needed; cache-only: show only what the cache already has; off: nothing. */
export type TriggerDecision = 'go' | 'cache-only' | 'off';

export function decideTrigger(
  settings: CompletionSettings,
  languageId: string,
  kind: TriggerKind,
): TriggerDecision {
  if (!isEnabledFor(settings.enable, languageId)) return 'off';
  // In manual mode, typing through a suggestion the user asked for keeps it; nothing new starts by itself.
  if (settings.triggerMode === 'manual' && kind === 'automatic') return 'cache-only';
  return 'go';
}
