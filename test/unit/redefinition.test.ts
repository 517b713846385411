import * as assert from 'node:assert/strict';
import { buildContext } from '../../src/completion/context';
import { postprocess } from '../../src/completion/postprocess';
import { definedName, redefinesName } from '../../src/completion/postprocess/redefinition';

const ctxAt = (text: string, languageId = 'python') => {
  const cursor = text.indexOf('|');
  return buildContext({ uri: 'u', languageId, text: text.replace('|', ''), cursor });
};

describe('post-processing: a top-level name defined again', () => {
  it('reads the name a top-level line defines', () => {
    assert.equal(definedName('def p_expression_number(t):'), 'p_expression_number');
    assert.equal(definedName('async def fetch(url):'), 'fetch');
    assert.equal(definedName('class Lexer(object):'), 'Lexer');
    assert.equal(definedName('export async function load<T>(x: T) {'), 'load');
    assert.equal(definedName('export default function* gen() {'), 'gen');
    assert.equal(definedName('export const MEMO_STATICS = {'), 'MEMO_STATICS');
    assert.equal(definedName('export type Draft<T> = T;'), 'Draft');
    assert.equal(definedName('export abstract class Base<T> {'), 'Base');
    assert.equal(definedName('    def __init__(self):'), undefined, 'nested definitions repeat names');
    assert.equal(definedName('export interface Props {'), undefined, 'interfaces merge');
    assert.equal(definedName('total = compute()'), undefined);
    assert.equal(definedName('def p_expression_'), undefined, 'the name is not finished');
  });

  it('drops a sibling copied again and keeps a new name, a method and an overload', () => {
    const file = "def p_expression_number(t):\n    'expression : NUMBER'\n\ndef p_expression_|";
    assert.equal(redefinesName('number(t):', ctxAt(file)), true);
    assert.equal(redefinesName('name(t):', ctxAt(file)), false);
    assert.equal(redefinesName('num', ctxAt(file)), false, 'a name not finished yet is left alone');
    const processed = postprocess('number(t):', ctxAt(file), 1);
    assert.deepEqual(processed, { ok: false, reason: 'redefines' });
    assert.equal(postprocess('name(t):', ctxAt(file), 1).ok, true);

    const methods = 'class A:\n    def __init__(self):\n        pass\n\nclass B:\n    def __i|';
    assert.equal(redefinesName('nit__(self):', ctxAt(methods)), false, 'each class has its own __init__');
    const overload = 'from typing import overload\n\n@overload\ndef f(x: int) -> int: ...\n\ndef |';
    assert.equal(redefinesName('f(x):', ctxAt(overload)), false, 'the implementation after @overload');
    const ts = 'export function parse(s: string): number;\nexport function |';
    assert.equal(redefinesName('parse(s: string | number) {', ctxAt(ts, 'typescript')), false);
    const twice = 'export function parse(s: string) {\n  return 1;\n}\nexport function |';
    assert.equal(redefinesName('parse(s: string) {', ctxAt(twice, 'typescript')), true);
  });
});
