/** The runtime's public surface: no editor API anywhere below this folder. */
export * from './model';
export * from './sessions';
export * from './tokenizer';
export * from './fastWeights';
export * from './scheduler';
export * from './runtime';
export * from './decoder';
export * from './evaluate';
export * from './documentState';
export * from './promptCache';
export * from './blockTokenizer';
export * from './compactState';
export * from './fileNgrams';
export * from './drafts';
