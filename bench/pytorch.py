#!/usr/bin/env python3
"""Training speed of the same model in PyTorch, for `bench/all.mjs` to compare with `rlstm bench`.

  bench/pytorch.py CONFIG [--data DIR] [--steps N] [--threads T] [--precision fp32|bf16]

CONFIG is small, medium or large (the paper's sizes, as src/model/configs.ts has them). The model is the
README's PyTorch class with the paper's dropout placement: nn.Embedding -> dropout -> nn.LSTM(L layers,
dropout between layers) -> dropout -> nn.Linear, trained as rlstm trains: B rows, windows of T steps, the
state carried (detached) between windows, cross-entropy averaged over the batch and summed over the
window's steps, global-norm clipping, plain SGD. On the CPU with T threads (default 2, like rlstm's two
cores). Two warm-up steps, then N timed steps (default: 40 small, 15 medium, 5 large, as rlstm bench).

--precision fp32 (the default) trains in float32. --precision bf16 is bfloat16 mixed precision as a PyTorch
user writes it on the CPU: torch.autocast("cpu", dtype=torch.bfloat16) around the forward pass and the loss,
the backward pass, the clipping and the SGD step outside it; the weights, their gradients and the carried
state stay float32 (bf16 needs no loss scaling). Autocast decides op by op what runs in bfloat16, and that
depends on the PyTorch version (1.13 runs nn.Linear in bf16 but nn.LSTM and the embedding in fp32), so the
first step's output dtypes are reported in "autocastDtypes". On a CPU without avx512_bf16 PyTorch still
runs bf16, emulated and slowly: the JSON then says "bf16Native": false.

Prints one JSON line: {"config", "precision", "tokensPerSecond", "peakRssMb", "steps", "tokens", "parameters",
"vocabSize", "threads", "torch", "cpu"}, and with bf16 also "bf16Native" and "autocastDtypes" ({"embedding",
"lstm", "decoder", "loss"}). peakRssMb is the process's peak resident memory (ru_maxrss), as rlstm bench
reports its own. "cpu" is read from /proc/cpuinfo (Linux; null elsewhere): {"vendor", "family", "model",
"modelName", "flags"}, flags being those of CPU_FLAGS the CPU has.
"""

import argparse
import contextlib
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from pytorch_check import CheckError, batchify, read_words, split_path, windows  # noqa: E402

# the /proc/cpuinfo flags that decide fp32 and bf16 speed: AVX2 (+FMA) for fp32; AVX-512, and bf16 done in
# hardware by AVX512-BF16 (Cooper Lake, Sapphire Rapids, Zen 4 and later) or AMX-BF16 (Sapphire Rapids)
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_info(path="/proc/cpuinfo"):
    """The first processor's vendor, family, model, model name and CPU_FLAGS flags; None where unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    fields = {}
    for line in text.split("\n\n")[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if not fields:
        return None

    def number(key):
        try:
            return int(fields[key])
        except (KeyError, ValueError):
            return None

    flags = set(fields.get("flags", "").split())
    return {"vendor": fields.get("vendor_id"), "family": number("cpu family"), "model": number("model"),
            "modelName": fields.get("model name"), "flags": [f for f in CPU_FLAGS if f in flags]}


# layers, hidden, keep probability, init, clip, bptt, batch, default timed steps
CONFIGS = {
    "small": (2, 200, 1.0, 0.1, 5.0, 20, 20, 40),
    "medium": (2, 650, 0.5, 0.05, 5.0, 35, 20, 15),
    "large": (2, 1500, 0.35, 0.04, 10.0, 35, 20, 5),
}


class ZarembaLM(nn.Module):
    """Dropout on the non-recurrent connections only: embedding output, between layers, before the decoder."""

    def __init__(self, V, H, L, keep):
        super().__init__()
        drop = 1.0 - keep
        self.encoder = nn.Embedding(V, H)
        self.rnn = nn.LSTM(H, H, L, dropout=drop if L > 1 else 0.0)
        self.decoder = nn.Linear(H, V)
        self.drop = nn.Dropout(drop)

    def forward(self, tokens, state):
        output, state = self.rnn(self.drop(self.encoder(tokens)), state)
        return self.decoder(self.drop(output)), state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", choices=sorted(CONFIGS))
    parser.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ptb"))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    args = parser.parse_args(argv)
    L, H, keep, init, clip, T, B, default_steps = CONFIGS[args.config]
    steps = default_steps if args.steps is None else args.steps
    if steps < 1:
        raise CheckError(f"--steps {steps}: give a whole number of steps >= 1")
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    words = read_words(split_path(args.data, "train"))
    vocab = sorted(set(words))  # the ids do not matter for the speed; the size does
    ids = {w: k for k, w in enumerate(vocab)}
    rows = batchify([ids[w] for w in words], B)
    model = ZarembaLM(len(vocab), H, L, keep)
    for p in model.parameters():
        nn.init.uniform_(p, -init, init)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    state = (torch.zeros(L, B, H), torch.zeros(L, B, H))

    bf16 = args.precision == "bf16"
    # fp32: no autocast context at all, the loop exactly as before; bf16: the forward pass and the loss in autocast
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    # the dtype each part's output has under autocast, seen on the first step (hooks removed after it)
    dtypes, hooks = {}, []
    if bf16:
        def seen(name):
            def hook(module, inputs, output):
                dtypes[name] = str((output[0] if isinstance(output, tuple) else output).dtype).replace("torch.", "")
            return hook
        hooks = [getattr(model, name).register_forward_hook(seen(label))
                 for name, label in (("encoder", "embedding"), ("rnn", "lstm"), ("decoder", "decoder"))]

    batches = windows(rows, T)
    timed_tokens, start = 0, None
    for k in range(2 + steps):
        if k == 2:
            start = time.perf_counter()
        inputs, targets = next(batches)
        state = (state[0].detach(), state[1].detach())
        with autocast():
            logits, state = model(inputs, state)
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), reduction="sum") / B
        if hooks:
            dtypes["loss"] = str(loss.dtype).replace("torch.", "")
            for h in hooks:
                h.remove()
            hooks = []
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if k >= 2:
            timed_tokens += targets.numel()
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parameters = sum(p.numel() for p in model.parameters())
    cpu = cpu_info()
    report = {"config": args.config, "precision": args.precision, "tokensPerSecond": timed_tokens / seconds,
              "peakRssMb": peak_kb / 1024, "steps": steps, "tokens": timed_tokens, "parameters": parameters,
              "vocabSize": len(vocab), "threads": args.threads, "torch": torch.__version__, "cpu": cpu}
    if bf16:
        # hardware bf16 (AVX512-BF16; AMX-BF16 CPUs have it too); null where /proc/cpuinfo cannot tell
        report["bf16Native"] = None if cpu is None else "avx512_bf16" in cpu["flags"]
        report["autocastDtypes"] = dtypes
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckError as err:
        print(f"bench/pytorch.py: {err}", file=sys.stderr)
        sys.exit(2)
