/** Model name, shape and size on disk for the panel's runtime section, read once per model folder. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ModelFacts {
  shape: string;
  diskBytes: number;
}

const cache = new Map<string, ModelFacts>();

export function modelFacts(modelDir: string): ModelFacts {
  const known = cache.get(modelDir);
  if (known) return known;
  let facts: ModelFacts = { shape: '', diskBytes: 0 };
  try {
    const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as {
      n_layer?: number;
      d_model?: number;
      vocab_size?: number;
      tokenizer?: string;
    };
    // Every graph the folder ships (full-precision and quantised variants) plus the tokenizer.
    const files = fs.readdirSync(modelDir).filter((f) => f.endsWith('.onnx'));
    files.push(config.tokenizer ?? 'tokenizer.json');
    const diskBytes = files.reduce((sum, f) => {
      const file = path.join(modelDir, f);
      return sum + (fs.existsSync(file) ? fs.statSync(file).size : 0);
    }, 0);
    const shape = [
      config.n_layer !== undefined ? `${config.n_layer} layers` : '',
      config.d_model !== undefined ? `width ${config.d_model}` : '',
      config.vocab_size !== undefined ? `vocabulary ${config.vocab_size.toLocaleString('en-US')}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    facts = { shape, diskBytes };
  } catch {
    // An unreadable folder would not have loaded; show the name alone.
  }
  cache.set(modelDir, facts);
  return facts;
}
