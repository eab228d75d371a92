#!/usr/bin/env python3
"""Cross-check regularized-lstm checkpoints and training against PyTorch.

Two independent checks, each printing one JSON line on stdout:

  eval CKPT DATA_DIR --split valid|test --batch-size B --bptt T
      Loads a checkpoint written by `rlstm train --save` into a plain PyTorch model
      (nn.Embedding -> nn.LSTM -> nn.Linear) with load_state_dict(strict=True), so every
      tensor name and shape must match PyTorch's exactly, then scores a split with the
      project's protocol (B contiguous rows, windows of T steps, state carried between
      windows, starting from zeros). Prints {"perplexity": ..., "tokens": ..., ...}.
      Agreement with `rlstm eval` shows that the checkpoint means the same model in both.

  step INIT_CKPT STEPPED_CKPT DATA_DIR
      Loads INIT_CKPT (saved by `rlstm train --max-steps 0`), takes one training step on
      window 0 of the training split exactly as the project specifies (cross-entropy
      averaged over the batch and summed over the window's steps, global-norm clipping,
      plain SGD at the first epoch's learning rate), and compares the result tensor by
      tensor with STEPPED_CKPT (saved by the same run with `--max-steps 1 --keep-prob 1`).
      Prints the largest absolute difference per tensor and overall next to the largest
      change the step made, so a difference at float32 rounding level is easy to tell
      from a real disagreement.

Needs PyTorch and numpy but not the safetensors package: the file is parsed here.
Tensors stored as float16 or bfloat16 (`rlstm export`) are converted to float32 on reading,
as rlstm does. Everything runs in float32 on the CPU with a fixed number of threads.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EOS = "<eos>"
UNK = "<unk>"


class CheckError(Exception):
    """A problem with the inputs, reported as one line without a traceback."""


# ----------------------------------------------------------------------------- checkpoints

def read_safetensors(path):
    """Returns ({name: float32 torch tensor}, {metadata key: string}); F32, F16 and BF16 tensors."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as err:
        raise CheckError(f"{path}: cannot read the file ({err.strerror})")
    if len(raw) < 8:
        raise CheckError(f"{path}: not a safetensors file (too short)")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if 8 + header_len > len(raw):
        raise CheckError(f"{path}: not a safetensors file (bad header length)")
    try:
        header = json.loads(raw[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckError(f"{path}: not a safetensors file (the header is not JSON)")
    metadata = header.pop("__metadata__", {}) or {}
    data = raw[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        dtype = info.get("dtype")
        if dtype not in ITEM_BYTES:
            raise CheckError(f"{path}: tensor {name} has dtype {dtype}; only F32, F16 and BF16 are supported")
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape)) if shape else 1
        if end - begin != ITEM_BYTES[dtype] * count or end > len(data):
            raise CheckError(f"{path}: tensor {name}: byte range {begin}..{end} does not fit shape {list(shape)} of {dtype}")
        tensors[name] = torch.from_numpy(as_float32(data, dtype, count, begin).reshape(shape))
    return tensors, metadata


# bytes per element of the dtypes read here; F16 and BF16 (rlstm export) become float32, as in rlstm
ITEM_BYTES = {"F32": 4, "F16": 2, "BF16": 2}


def as_float32(data, dtype, count, offset):
    """A new, writable float32 array of `count` elements at `offset` (torch wants writable memory)."""
    if dtype == "F32":
        return np.frombuffer(data, dtype="<f4", count=count, offset=offset).astype(np.float32, copy=True)
    if dtype == "F16":  # IEEE half: numpy converts exactly, subnormals, inf and NaN included
        return np.frombuffer(data, dtype="<f2", count=count, offset=offset).astype(np.float32)
    # bfloat16 is the top half of a float32's bits
    halves = np.frombuffer(data, dtype="<u2", count=count, offset=offset).astype(np.uint32)
    return (halves << 16).view(np.float32)


def checkpoint_config(metadata, path):
    try:
        config = json.loads(metadata["config"])
        vocab = json.loads(metadata["vocab"])
    except (KeyError, json.JSONDecodeError):
        raise CheckError(f"{path}: no config/vocab metadata; pass a checkpoint written by 'rlstm train --save'")
    return config, vocab


# ----------------------------------------------------------------------------- the model

class LanguageModel(nn.Module):
    """Embedding -> multi-layer LSTM (time-major) -> linear decoder; no dropout (not needed here)."""

    def __init__(self, vocab_size, hidden, layers):
        super().__init__()
        self.encoder = nn.Embedding(vocab_size, hidden)
        self.rnn = nn.LSTM(hidden, hidden, num_layers=layers)
        self.decoder = nn.Linear(hidden, vocab_size)
        self.layers = layers
        self.hidden = hidden

    def zero_state(self, batch):
        shape = (self.layers, batch, self.hidden)
        return torch.zeros(shape), torch.zeros(shape)

    def forward(self, tokens, state):
        """tokens (T, B) int64 -> logits (T, B, V) and the final (h, c)."""
        output, state = self.rnn(self.encoder(tokens), state)
        return self.decoder(output), state


def load_model(path):
    tensors, metadata = read_safetensors(path)
    config, vocab = checkpoint_config(metadata, path)
    layer_norm = sorted(name for name in tensors if name.startswith("rnn.ln_"))
    if config.get("layerNorm") or layer_norm:
        raise CheckError(f"{path}: a layer-normalized LSTM (--layer-norm, tensors {', '.join(layer_norm[:2])} ...); "
                         "PyTorch's nn.LSTM has no layer normalization, so this checkpoint cannot be checked here")
    vocab_size, hidden = tensors["encoder.weight"].shape
    if vocab_size != len(vocab):
        raise CheckError(f"{path}: encoder.weight has {vocab_size} rows but the vocabulary {len(vocab)} words")
    model = LanguageModel(vocab_size, hidden, int(config["layers"]))
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise CheckError(f"{path}: does not load into the PyTorch model: {' '.join(str(err).split())}")
    return model, config, vocab, tensors


# ----------------------------------------------------------------------------- data

def split_path(data_dir, split):
    for name in (f"ptb.{split}.txt", f"{split}.txt"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    raise CheckError(f"{data_dir}: no {split} split (ptb.{split}.txt or {split}.txt)")


def read_words(path):
    """Each line's whitespace-separated words, then <eos>; a final newline adds no empty line."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    words = []
    for line in lines:
        words.extend(line.split())
        words.append(EOS)
    return words


def encode(words, vocab, source):
    ids = {word: k for k, word in enumerate(vocab)}
    unk = ids.get(UNK)
    out = []
    for word in words:
        k = ids.get(word, unk)
        if k is None:
            raise CheckError(f"{source}: the word {word!r} is not in the vocabulary and there is no {UNK}")
        out.append(k)
    return out


def batchify(stream, batch):
    """(B, L) int64 tensor: row b holds stream[b*L:(b+1)*L], L = len // B."""
    length = len(stream) // batch
    if length < 2:
        raise CheckError(f"batch size {batch} is too large for {len(stream)} tokens")
    return torch.tensor(stream[:batch * length], dtype=torch.int64).view(batch, length)


def windows(rows, bptt):
    """Yields time-major (inputs, targets), each (len, B), for windows 0, 1, ... (the last may be shorter)."""
    length = rows.shape[1]
    for k in range(math.ceil((length - 1) / bptt)):
        start = k * bptt
        size = min(bptt, length - 1 - start)
        inputs = rows[:, start:start + size].t().contiguous()
        targets = rows[:, start + 1:start + 1 + size].t().contiguous()
        yield inputs, targets


# ----------------------------------------------------------------------------- the checks

def run_eval(args):
    model, _, vocab, _ = load_model(args.checkpoint)
    path = split_path(args.data, args.split)
    rows = batchify(encode(read_words(path), vocab, path), args.batch_size)
    model.eval()
    nll, tokens = 0.0, 0
    with torch.no_grad():
        state = model.zero_state(args.batch_size)
        for inputs, targets in windows(rows, args.bptt):
            logits, state = model(inputs, state)
            # per-token log-probabilities in float32, summed in double like a careful reference would
            losses = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), reduction="none")
            nll += float(losses.double().sum())
            tokens += targets.numel()
    return {"perplexity": math.exp(nll / tokens), "nll": nll, "tokens": tokens,
            "batchSize": args.batch_size, "bptt": args.bptt, "split": args.split}


# fields of the two runs' configs that must agree for the step comparison to mean anything
SAME_FIELDS = ("layers", "hidden", "init", "seed", "batchSize", "bptt", "clip", "lr", "decay", "maxEpoch",
               "weightDecay")


def run_step(args):
    model, config, vocab, before = load_model(args.init)
    after, stepped_metadata = read_safetensors(args.stepped)
    stepped_config, stepped_vocab = checkpoint_config(stepped_metadata, args.stepped)
    if stepped_vocab != vocab:
        raise CheckError(f"{args.stepped}: its vocabulary differs from {args.init}'s; use the same data folder")
    for field in SAME_FIELDS:
        if field in config and config.get(field) != stepped_config.get(field):
            raise CheckError(f"{args.stepped}: {field} is {stepped_config.get(field)} but {config.get(field)} in "
                             f"{args.init}; train both with the same settings")
    if stepped_config.get("keepProb", 1) != 1 and stepped_config.get("placement") != "none":
        raise CheckError(f"{args.stepped}: trained with keep probability {stepped_config['keepProb']}; "
                         "the step check needs --keep-prob 1 (dropout masks cannot be reproduced here)")
    if stepped_config.get("maxSteps") != 1:
        print(f"warning: {args.stepped} was trained with maxSteps {stepped_config.get('maxSteps')}, not 1",
              file=sys.stderr)
    if sorted(after) != sorted(before):
        raise CheckError(f"{args.stepped}: its tensors ({', '.join(sorted(after))}) differ from {args.init}'s")

    batch, bptt, clip = int(config["batchSize"]), int(config["bptt"]), float(config["clip"])
    # the first epoch's learning rate: lr, times decay for every epoch past maxEpoch (normally none)
    lr = float(config["lr"]) * float(config.get("decay", 1)) ** max(0, 1 - int(config.get("maxEpoch", 1)))
    weight_decay = float(config.get("weightDecay", 0))

    path = split_path(args.data, "train")
    rows = batchify(encode(read_words(path), vocab, path), batch)
    inputs, targets = next(windows(rows, bptt))
    steps = inputs.shape[0]

    model.train()  # no dropout layers exist, so train/eval mode are the same
    model.zero_grad()
    logits, _ = model(inputs, model.zero_state(batch))
    # mean over the T*B tokens times T = averaged over the B sequences, summed over the T steps
    loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1)) * steps
    loss.backward()
    # PyTorch scales by clip / (norm + 1e-6) where rlstm uses clip / norm: a relative difference of
    # about 1e-6 / norm in a clipped update, far below what the comparison would notice
    grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
    with torch.no_grad():
        for name, p in model.named_parameters():
            g = p.grad
            if weight_decay != 0 and name.split(".")[-1].startswith("weight"):
                g = g + weight_decay * p  # weight decay on weight matrices only, outside the clipping
            p.sub_(lr * g)

    per_tensor = {}
    worst_diff, worst_change = 0.0, 0.0
    for name, p in model.state_dict().items():
        diff = float((p - after[name]).abs().max())
        change = float((after[name] - before[name]).abs().max())
        per_tensor[name] = {"maxAbsDiff": diff, "maxAbsChange": change}
        worst_diff = max(worst_diff, diff)
        worst_change = max(worst_change, change)
    return {"maxAbsDiff": worst_diff, "maxAbsChange": worst_change, "loss": float(loss),
            "gradNorm": grad_norm, "clipped": grad_norm > clip, "clip": clip, "lr": lr,
            "batchSize": batch, "bptt": steps, "tensors": per_tensor}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval", help="perplexity of a checkpoint on a split, computed by PyTorch")
    ev.add_argument("checkpoint")
    ev.add_argument("data")
    ev.add_argument("--split", choices=("valid", "test"), default="test")
    ev.add_argument("--batch-size", type=int, required=True)
    ev.add_argument("--bptt", type=int, required=True)
    st = sub.add_parser("step", help="one PyTorch training step from INIT, compared with STEPPED")
    st.add_argument("init")
    st.add_argument("stepped")
    st.add_argument("data")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    try:
        result = run_eval(args) if args.command == "eval" else run_step(args)
    except CheckError as err:
        print(f"pytorch_check: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
