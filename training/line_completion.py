"""Line completion, CodeXGLUE convention: from the cursor to the end of the line, greedy decoding,
exact match (whitespace-split tokens equal) and edit similarity (Levenshtein ratio x 100), both on
the stripped strings.

Targets (the same rule as src/runtime/evaluate.ts, so both pick the same cursors):
- a line is non-trivial when its stripped text has at least 8 characters, one a letter or digit;
- cursor candidates in a line: after the indentation, at the end of a run of letters, where the next
  character is neither a letter nor a digit (a pre-token boundary of the byte-level BPE, so the
  prefix's tokens are the file's tokens), with at least 4 non-space characters left on the line;
- per file, a mulberry32 generator seeded with fnv1a32(UTF-8 text) XOR seed draws `count` distinct
  lines among the lines with candidates, then one candidate in each.

States for decoding (the state stays fixed while decoding, as in src/runtime/decoder.ts):
- static: zero; causal: S at the cursor from the text before it;
- whole file: the document with the rest of the target line removed (what the editor holds before
  the line is typed): the causal state plus every position after the line, weighted lambda^distance.
  Text more than `reach` tokens from the cursor is left out (its weight is below lambda^reach).
"""

from __future__ import annotations

import torch
from model import STATE_NAMES, FastWeightsLM

MIN_LINE_CHARS = 8
MIN_REST_CHARS = 4


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


class Mulberry32:
    def __init__(self, seed: int):
        self.a = seed & 0xFFFFFFFF

    def next(self) -> float:
        self.a = (self.a + 0x6D2B79F5) & 0xFFFFFFFF
        t = self.a
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296


def _is_letter(c: str) -> bool:
    return c.isalpha()


def _is_alnum(c: str) -> bool:
    return c.isalpha() or c.isdigit()


def line_candidates(text: str) -> list[tuple[int, list[int]]]:
    """(line start offset, cursor offsets) for each non-trivial line with at least one cursor."""
    out = []
    start = 0
    for line in text.split("\n"):
        body = line.rstrip("\r")
        stripped = body.strip()
        if len(stripped) >= MIN_LINE_CHARS and any(_is_alnum(c) for c in stripped):
            indent = len(body) - len(body.lstrip())
            cursors = []
            for i in range(indent + 1, len(body)):
                if _is_letter(body[i - 1]) and not _is_alnum(body[i]):
                    if len("".join(body[i:].split())) >= MIN_REST_CHARS:
                        cursors.append(start + i)
            if cursors:
                out.append((start, cursors))
        start += len(line) + 1
    return out


def sample_targets(text: str, count: int, seed: int = 0) -> list[int]:
    """Cursor offsets (character offsets in text), sorted."""
    cands = line_candidates(text)
    rng = Mulberry32(fnv1a32(text.encode()) ^ seed)
    chosen: list[int] = []
    lines: set[int] = set()
    for _ in range(min(count, len(cands))):
        k = int(rng.next() * len(cands))
        while k in lines:
            k = (k + 1) % len(cands)
        lines.add(k)
        cursors = cands[k][1]
        chosen.append(cursors[int(rng.next() * len(cursors))])
    return sorted(chosen)


def line_end(text: str, offset: int) -> int:
    nl = text.find("\n", offset)
    end = len(text) if nl < 0 else nl
    return end - 1 if end > offset and text[end - 1] == "\r" else end


def edit_similarity(pred: str, truth: str) -> float:
    """Levenshtein ratio x 100 with substitutions costing 2, as fuzzywuzzy's ratio (CodeXGLUE)."""
    a, b = pred.strip(), truth.strip()
    if not a and not b:
        return 100.0
    # indel distance = len(a) + len(b) - 2 * LCS; computed through a substitution-free Levenshtein
    total = len(a) + len(b)
    return 100.0 * (total - _indel_distance(a, b)) / total


def _indel_distance(a: str, b: str) -> int:
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if ca == cb else max(prev[j], cur[j - 1]))
        prev = cur
    return len(a) + len(b) - 2 * prev[-1]


def exact_match(pred: str, truth: str) -> bool:
    return pred.split() == truth.split()


# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def _states(model: FastWeightsLM, ids: list[int], cursor: int) -> dict[str, dict]:
    """Causal and whole-file states for predicting ids[cursor + 1] from position `cursor`.

    ids: bos-free document ids around the cursor (ids[0] acts as the first position); positions
    s < cursor feed the causal state with weight lambda^(cursor-1-s); positions s > cursor feed the
    future part with weight lambda^(s-cursor). Position `cursor` itself (whose target would be the
    text after the removed line) is left out.
    """
    cfg = model.cfg
    lam, chunk = cfg.fwl_decay, cfg.attn_window
    x = torch.tensor(ids, dtype=torch.long)[None]
    n = x.shape[1] - 1
    causal = model.zero_state()
    future = model.zero_state()
    past_k = past_v = None
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        h, past_k, past_v = model.body(x[:, a:b], torch.arange(a, b)[None], past_k, past_v)
        past_k, past_v = past_k[:, :, :, -(chunk - 1) :], past_v[:, :, :, -(chunk - 1) :]
        s = torch.arange(a, b, dtype=torch.float64)
        wc = torch.where(s < cursor, lam ** (cursor - 1 - s).clamp(min=0), 0.0)
        wf = torch.where(s > cursor, lam ** (s - cursor).clamp(min=0), 0.0)
        tgt = x[:, a + 1 : b + 1]
        for w, acc in ((wc, causal), (wf, future)):
            if w.max() > 1e-12:
                c = model.state_contribution(h, tgt, w.float()[None])
                for k in STATE_NAMES:
                    acc[k] += c[k]
    whole = {k: causal[k] + future[k] for k in STATE_NAMES}
    return {"static": model.zero_state(), "adapted": causal, "adapted_whole_file": whole}


@torch.no_grad()
def greedy_line(model, tok, prompt: list[int], state: dict, max_new: int = 48) -> str:
    """Greedy decoding with a fixed state until a newline (text before it returned)."""
    cfg = model.cfg
    keep = cfg.attn_window - 1
    x = torch.tensor(prompt, dtype=torch.long)[None]
    past_k = past_v = None
    h = None
    for a in range(0, x.shape[1], cfg.attn_window):
        b = min(a + cfg.attn_window, x.shape[1])
        h, past_k, past_v = model.body(x[:, a:b], torch.arange(a, b)[None], past_k, past_v)
        past_k, past_v = past_k[:, :, :, -keep:], past_v[:, :, :, -keep:]
    pos = x.shape[1]
    out: list[int] = []
    text = ""
    for _ in range(max_new):
        logits = model.head_logits(h[:, -1:], state)[0, -1]
        nxt = int(torch.argmax(logits))
        if nxt == cfg.bos_token_id:
            break
        out.append(nxt)
        text = tok.decode(out)
        if "\n" in text or "\r" in text:
            break
        h, past_k, past_v = model.body(torch.tensor([[nxt]]), torch.tensor([[pos]]), past_k, past_v)
        past_k, past_v = past_k[:, :, :, -keep:], past_v[:, :, :, -keep:]
        pos += 1
    cut = min([i for i in (text.find("\n"), text.find("\r")) if i >= 0], default=len(text))
    return text[:cut].replace("\ufffd", "")


def complete_targets(
    model: FastWeightsLM,
    tok,
    text: str,
    cursors: list[int],
    reach: int = 3072,
    prompt_tokens: int = 512,
) -> list[dict]:
    """Predictions of each mode for each cursor offset of one file."""
    results = []
    for cur in cursors:
        end = line_end(text, cur)
        truth = text[cur:end]
        prefix_ids = tok.encode(text[:cur]).ids
        rest_ids = tok.encode(text[end:]).ids
        left = prefix_ids[-reach:]
        at_start = len(left) == len(prefix_ids)
        doc = ([cfg_bos(model)] if at_start else []) + left + rest_ids[:reach]
        cursor = len(left) - (0 if at_start else 1)
        states = _states(model, doc, cursor)
        prompt = prefix_ids[-(prompt_tokens - 1) :]
        if len(prompt) == len(prefix_ids):
            prompt = [cfg_bos(model), *prompt]
        row = dict(offset=cur, truth=truth)
        for mode, st in states.items():
            pred = greedy_line(model, tok, prompt, st)
            row[mode] = dict(
                pred=pred, exact=exact_match(pred, truth), edit_sim=edit_similarity(pred, truth)
            )
        results.append(row)
    return results


def cfg_bos(model) -> int:
    return model.cfg.bos_token_id


def summarise(rows: list[dict]) -> dict:
    out = {"targets": len(rows)}
    for mode in ("static", "adapted", "adapted_whole_file"):
        if not rows:
            out[mode] = dict(line_exact_match=0.0, line_edit_similarity=0.0)
            continue
        out[mode] = dict(
            line_exact_match=100.0 * sum(r[mode]["exact"] for r in rows) / len(rows),
            line_edit_similarity=sum(r[mode]["edit_sim"] for r in rows) / len(rows),
        )
    return out
