#!/usr/bin/env python3
"""Training speed of the same model in PyTorch, for `bench/all.mjs` to compare with `rlstm bench`.

  bench/pytorch.py CONFIG [--data DIR] [--steps N] [--threads T]

CONFIG is small, medium or large (the paper's sizes, as src/model/configs.ts has them). The model is the
README's PyTorch class with the paper's dropout placement: nn.Embedding -> dropout -> nn.LSTM(L layers,
dropout between layers) -> dropout -> nn.Linear, trained as rlstm trains: B rows, windows of T steps, the
state carried (detached) between windows, cross-entropy averaged over the batch and summed over the
window's steps, global-norm clipping, plain SGD. float32 on the CPU with T threads (default 2, like rlstm's
two cores). Two warm-up steps, then N timed steps (default: 40 small, 15 medium, 5 large, as rlstm bench).

Prints one JSON line: {"config", "tokensPerSecond", "peakRssMb", "steps", "tokens", "parameters", "vocabSize",
"threads", "torch"}. peakRssMb is
the process's peak resident memory (ru_maxrss), as rlstm bench reports its own.
"""

import argparse
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

    batches = windows(rows, T)
    timed_tokens, start = 0, None
    for k in range(2 + steps):
        if k == 2:
            start = time.perf_counter()
        inputs, targets = next(batches)
        state = (state[0].detach(), state[1].detach())
        logits, state = model(inputs, state)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), reduction="sum") / B
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if k >= 2:
            timed_tokens += targets.numel()
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parameters = sum(p.numel() for p in model.parameters())
    print(json.dumps({"config": args.config, "tokensPerSecond": timed_tokens / seconds, "peakRssMb": peak_kb / 1024,
                      "steps": steps, "tokens": timed_tokens, "parameters": parameters, "vocabSize": len(vocab),
                      "threads": args.threads, "torch": torch.__version__}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckError as err:
        print(f"bench/pytorch.py: {err}", file=sys.stderr)
        sys.exit(2)
