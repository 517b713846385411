/**
 * The model's tokenizer: a thin wrapper over @huggingface/tokenizers reading the folder's tokenizer.json
 * (byte-level BPE). Ids must equal the Python tokenizer's; tokenizer_test_vectors.json pins that.
 */
import * as fs from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';

/** GPT-2 style byte-level alphabet: maps each byte to a printable code point and back. */
function byteLevelDecoderTable(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.slice();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + extra);
      extra++;
    }
  }
  const table = new Map<string, number>();
  bytes.forEach((b, i) => table.set(String.fromCodePoint(chars[i]!), b));
  return table;
}

export class CodeTokenizer {
  private readonly tok: Tokenizer;
  private readonly byteTable = byteLevelDecoderTable();
  private tokenBytesCache: (Uint8Array | undefined)[] = [];
  readonly specialIds: ReadonlySet<number>;

  private constructor(json: Record<string, unknown>) {
    this.tok = new Tokenizer(json, {});
    const added = (json['added_tokens'] as { id: number; special?: boolean }[] | undefined) ?? [];
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
  }

  static fromFile(file: string): CodeTokenizer {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`Cannot read tokenizer ${file}: ${(e as Error).message}`, { cause: e });
    }
    return new CodeTokenizer(json);
  }

  /** Token ids of `text`, no special tokens added. */
  encode(text: string): number[] {
    if (text.length === 0) return [];
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  /** Text of a token sequence (special tokens dropped). Incomplete UTF-8 at the end becomes U+FFFD. */
  decode(ids: readonly number[]): string {
    if (ids.length === 0) return '';
    return this.tok.decode(ids as number[], {
      skip_special_tokens: true,
      clean_up_tokenization_spaces: false,
    });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** Raw UTF-8 bytes a token stands for (empty for special tokens). */
  tokenBytes(id: number): Uint8Array {
    const cached = this.tokenBytesCache[id];
    if (cached) return cached;
    let out: Uint8Array;
    if (this.specialIds.has(id)) {
      out = new Uint8Array(0);
    } else {
      const piece = this.tok.id_to_token(id) ?? '';
      const bytes: number[] = [];
      for (const ch of piece) {
        const b = this.byteTable.get(ch);
        if (b === undefined) {
          // Not a byte-level symbol: fall back to its UTF-8 encoding.
          bytes.push(...Buffer.from(ch, 'utf8'));
        } else {
          bytes.push(b);
        }
      }
      out = Uint8Array.from(bytes);
    }
    this.tokenBytesCache[id] = out;
    return out;
  }

  /** Decodes ids through their bytes; returns the text and how many trailing bytes form an incomplete character. */
  decodeBytes(ids: readonly number[]): { text: string; pendingBytes: number } {
    const parts = ids.map((id) => this.tokenBytes(id));
    const buf = Buffer.concat(parts);
    const pending = incompleteUtf8Tail(buf);
    return { text: buf.subarray(0, buf.length - pending).toString('utf8'), pendingBytes: pending };
  }

  private vocabSizeCache: number | undefined;

  /** Number of ids the tokenizer can decode (0..vocabSize-1); the model's vocabulary may be padded beyond. */
  get vocabSize(): number {
    if (this.vocabSizeCache === undefined) {
      let max = -1;
      for (const id of this.tok.get_vocab(true).values()) if (id > max) max = id;
      this.vocabSizeCache = max + 1;
    }
    return this.vocabSizeCache;
  }
}

/** Number of bytes at the end of `buf` that start a UTF-8 character not yet complete. */
export function incompleteUtf8Tail(buf: Uint8Array): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    let need = 1;
    if ((b & 0xe0) === 0xc0) need = 2;
    else if ((b & 0xf0) === 0xe0) need = 3;
    else if ((b & 0xf8) === 0xf0) need = 4;
    return need > back ? back : 0;
  }
  return 0;
}
