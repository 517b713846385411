/** Test helper for the completion stages: the context at the `|` of a text. */
import { buildContext, CompletionContext } from '../../src/completion/context';

export function contextAt(text: string, languageId = 'typescript'): CompletionContext {
  const cursor = text.indexOf('|');
  return buildContext({ uri: 'file:///t.ts', languageId, text: text.replace('|', ''), cursor });
}
