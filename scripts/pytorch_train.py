#!/usr/bin/env python3
"""Train the README's PyTorch model for a few steps and save it for `rlstm import`.

  pytorch_train.py DATA_DIR OUT_DIR --layers L --hidden H --steps N --batch-size B --bptt T
                   [--seed S] [--dtype f32|f16|bf16] [--no-metadata] [--ddp] [--no-bias]
                   --eval SPLIT:B:T [--eval SPLIT:B:T ...]

Writes OUT_DIR/model.safetensors (the model's state_dict) and OUT_DIR/vocab.txt (one token per line, in
id order: the training split's words in order of first appearance, as PyTorch's word-language-model example
numbers them, so the ids differ from the ones rlstm would choose), then scores each --eval split (valid or
test) with the project's protocol (B contiguous rows, windows of T steps, the state carried from window to
window, starting from zeros) and prints {"evaluations": [{"split", "perplexity", "tokens", ...}], ...} as
one JSON line.

--dtype f16 or bf16 saves the weights rounded to that type, and the score is then that of the rounded
weights (computed in float32, as rlstm does). --ddp trains through DistributedDataParallel (one process,
the gloo backend), whose state_dict names every tensor `module.<name>`, as a multi-machine run's does.
Started as N processes with the environment torchrun gives each (MASTER_ADDR, MASTER_PORT, WORLD_SIZE=N,
RANK=0..N-1; `torchrun --nproc_per_node=N pytorch_train.py ...` sets it, on one machine or several), it trains
through DDP (gloo, CPU), each process on its own B of B * N rows, and process 0 saves and scores the model.
(Debian's torch 1.13 launcher fails on Python 3.11 before starting anything; setting those four variables by
hand for each process works.) --no-bias builds nn.LSTM(bias=False) and nn.Linear(bias=False). --no-metadata leaves out the header's
__metadata__, as safetensors does when none is given.

The file is written with the `safetensors` package when it is installed, and otherwise here (the format:
8 bytes of little-endian header length, a JSON header naming every tensor's dtype, shape and byte range,
padded with spaces to a multiple of 8, then the raw little-endian data).
"""

import argparse
import json
import math
import os
import struct
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

from pytorch_check import CheckError, batchify, encode, read_words, split_path, windows


class LM(nn.Module):
    """The README's class: encoder -> multi-layer LSTM (time-major) -> decoder."""

    def __init__(self, V, H, L, bias=True):
        super().__init__()
        self.encoder, self.rnn, self.decoder = nn.Embedding(V, H), nn.LSTM(H, H, L, bias=bias), nn.Linear(H, V, bias=bias)

    def forward(self, tokens, state):
        output, state = self.rnn(self.encoder(tokens), state)
        return self.decoder(output), state


def zero_state(layers, batch, hidden):
    return torch.zeros(layers, batch, hidden), torch.zeros(layers, batch, hidden)


DTYPES = {"f32": (torch.float32, "F32"), "f16": (torch.float16, "F16"), "bf16": (torch.bfloat16, "BF16")}


def tensor_bytes(t):
    """The raw little-endian bytes of a tensor (numpy has no bfloat16: its bits are read as int16)."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, tensors, metadata):
    """Writes {name: tensor} in the safetensors format; returns which writer did it."""
    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = None
    if save_file is not None:
        save_file(tensors, path, metadata=metadata)
        return "safetensors"
    names = list(tensors)
    header, offset = {}, 0
    for name in names:
        size = len(tensor_bytes(tensors[name]))
        dtype = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[tensors[name].dtype]
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape), "data_offsets": [offset, offset + size]}
        offset += size
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in names:
            f.write(tensor_bytes(tensors[name]))
    return "written here (no safetensors package)"


def evaluate(model, vocab, data, split, B, T):
    """Perplexity of a split: B rows, windows of T steps, the state carried, per-token losses summed in double."""
    rows = batchify(encode(read_words(split_path(data, split)), vocab, split), B)
    layers, hidden = model.rnn.num_layers, model.rnn.hidden_size
    nll, tokens = 0.0, 0
    with torch.no_grad():
        state = zero_state(layers, B, hidden)
        for inputs, targets in windows(rows, T):
            logits, state = model(inputs, state)
            losses = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1), reduction="none")
            nll += float(losses.double().sum())
            tokens += targets.numel()
    return {"split": split, "perplexity": math.exp(nll / tokens), "nll": nll, "tokens": tokens, "batchSize": B, "bptt": T}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--layers", type=int, required=True)
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--bptt", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dtype", choices=DTYPES, default="f32")
    parser.add_argument("--no-metadata", action="store_true")
    parser.add_argument("--ddp", action="store_true")
    parser.add_argument("--no-bias", action="store_true")
    parser.add_argument("--eval", action="append", required=True, metavar="SPLIT:B:T")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    try:
        words = read_words(split_path(args.data, "train"))
        vocab = list(dict.fromkeys(words))  # first appearance
        if "<unk>" not in vocab:
            vocab.append("<unk>")
        V, H, L = len(vocab), args.hidden, args.layers
        model = LM(V, H, L, bias=not args.no_bias)  # the same initial weights in every process (the same seed)
        trained, rank, world = model, 0, 1
        if args.ddp or "WORLD_SIZE" in os.environ:
            import torch.distributed as dist
            if "WORLD_SIZE" in os.environ:  # started by torchrun: its environment says where the others are
                dist.init_process_group("gloo", init_method="env://")
            else:
                rendezvous = tempfile.mktemp(prefix="rlstm-ddp-")
                dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=0, world_size=1)
            rank, world = dist.get_rank(), dist.get_world_size()
            trained = nn.parallel.DistributedDataParallel(model)  # averages the gradients of all processes

        # a few steps of truncated BPTT with plain SGD and global-norm clipping, the state carried; with
        # several processes the stream is cut into B * world rows and each process trains on its own B of them
        rows = batchify(encode(words, vocab, "train"), args.batch_size * world)[rank * args.batch_size:(rank + 1) * args.batch_size]
        optimizer = torch.optim.SGD(trained.parameters(), lr=1.0)
        state = zero_state(L, args.batch_size, H)
        trained.train()
        for step, (inputs, targets) in enumerate(windows(rows, args.bptt)):
            if step == args.steps:
                break
            state = tuple(s.detach() for s in state)
            optimizer.zero_grad()
            logits, state = trained(inputs, state)
            loss = F.cross_entropy(logits.view(-1, V), targets.view(-1)) * inputs.shape[0]
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained.parameters(), 5.0)
            optimizer.step()

        # what is saved: the state_dict (module.<name> under DDP), rounded to --dtype, by the first process
        dtype, _ = DTYPES[args.dtype]
        saved = {k: v.detach().to(dtype).contiguous() for k, v in trained.state_dict().items()}
        if trained is not model:
            dist.destroy_process_group()
            if "WORLD_SIZE" not in os.environ and os.path.exists(rendezvous):
                os.remove(rendezvous)
        if rank != 0:
            return 0
        os.makedirs(args.out, exist_ok=True)
        writer = write_safetensors(os.path.join(args.out, "model.safetensors"), saved,
                                   None if args.no_metadata else {"format": "pt"})
        with open(os.path.join(args.out, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("".join(w + "\n" for w in vocab))

        # the saved weights scored in float32, as rlstm will score them
        model.load_state_dict({k.removeprefix("module."): v.float() for k, v in saved.items()})
        model.eval()
        evaluations = []
        for spec in args.eval:
            split, B, T = spec.split(":")
            evaluations.append(evaluate(model, vocab, args.data, split, int(B), int(T)))
    except CheckError as err:
        print(f"pytorch_train: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"evaluations": evaluations, "vocabSize": V, "keys": list(saved), "writer": writer, "processes": world}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
