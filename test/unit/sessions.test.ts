import * as assert from 'node:assert/strict';
import { createSessions, loadModelFolder, missingCudaLibraries } from '../../src/runtime';
import { modelDir } from './helpers';

describe('execution providers', () => {
  const model = loadModelFolder(modelDir());
  const cudaAbsent = missingCudaLibraries().length > 0;

  it('runs on the CPU when asked, with no fallback', async () => {
    const s = await createSessions(model, { provider: 'cpu' });
    try {
      assert.equal(s.provider, 'cpu');
      assert.equal(s.requested, 'cpu');
      assert.equal(s.fallbackReason, undefined);
    } finally {
      await s.release();
    }
  });

  it("falls back from 'cuda' to the CPU and records why (CUDA libraries absent)", async function () {
    if (!cudaAbsent) this.skip(); // a machine with the CUDA provider installed: nothing falls back
    const s = await createSessions(model, { provider: 'cuda' });
    try {
      assert.equal(s.provider, 'cpu');
      assert.equal(s.requested, 'cuda');
      assert.ok(s.fallbackReason, 'a fallback reason must be recorded');
      assert.match(s.fallbackReason!, /CUDA provider unavailable/);
      assert.match(s.fallbackReason!, /libonnxruntime_providers_(shared|cuda)\.so/);
    } finally {
      await s.release();
    }
  });

  it("'auto' also ends on the CPU with the reason when CUDA is absent", async function () {
    if (!cudaAbsent) this.skip();
    const s = await createSessions(model, { provider: 'auto' });
    try {
      assert.equal(s.provider, 'cpu');
      assert.equal(s.requested, 'auto');
      assert.match(s.fallbackReason ?? '', /CUDA provider unavailable/);
    } finally {
      await s.release();
    }
  });
});
