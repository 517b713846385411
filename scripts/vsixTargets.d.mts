// Types for scripts/vsixTargets.mjs, imported by test/unit/vsixTargets.test.ts.
export declare const TARGETS: readonly string[];
export declare const DEFAULT_TARGET: string;
export declare function binDir(target: string): string;
export declare function ignoreText(root: string, target: string): string;
export declare function writeIgnoreFile(root: string, target: string, dir: string): string;
export declare function vscePath(root: string): string;
export declare function listFiles(root: string, ignoreFile: string): Promise<string[]>;
