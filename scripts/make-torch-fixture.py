#!/usr/bin/env python3
"""Writes the PyTorch fixtures of tests/cli_init_from (`backprop train --init-from`):

  tests/fixtures/torch_blobs.csv                 150 rows: x0..x3 and a label of 3 classes
  tests/fixtures/torch_sequential.safetensors    nn.Sequential(Linear(4,16), ReLU, Linear(16,3)),
                                                 trained on the CSV by PyTorch (names 0.*, 2.*)
  tests/fixtures/torch_modulelist.safetensors    a ModuleList of Linear(4,8), Linear(8,8),
                                                 Linear(8,3,bias=False) with tanh between
                                                 (names layers.0.*, …), untrained
  tests/fixtures/torch_outputs.json              both nets' outputs on the first 8 rows, and the
                                                 sequential net's training loss and accuracy

Run once (the files are committed): needs torch, safetensors and numpy.
  python scripts/make-torch-fixture.py
"""

import json
import pathlib

import numpy as np
import torch
from torch import nn
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"
OUT.mkdir(parents=True, exist_ok=True)

# three Gaussian blobs in 4-D, raw (unscaled) features
rng = np.random.default_rng(0)
centres = np.array([[0, 0, 0, 0], [3, 1, -1, 2], [-1, 3, 2, -2]], dtype=np.float64)
labels = np.repeat(np.arange(3), 50)
x = centres[labels] + rng.normal(scale=0.9, size=(150, 4))
order = rng.permutation(150)
x, labels = x[order].astype(np.float32), labels[order]
x = np.round(x, 4).astype(np.float32)  # what the CSV holds, exactly
with open(OUT / "torch_blobs.csv", "w") as f:
    f.write("x0,x1,x2,x3,label\n")
    for row, y in zip(x, labels):
        f.write(",".join(f"{v:.4f}" for v in row) + f",{y}\n")

torch.manual_seed(0)
seq = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
opt = torch.optim.Adam(seq.parameters(), lr=0.02)
for _ in range(150):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(seq(xt), yt)
    loss.backward()
    opt.step()
save_file(seq.state_dict(), OUT / "torch_sequential.safetensors")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(
            [nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 3, bias=False)]
        )

    def forward(self, x):
        x = torch.tanh(self.layers[0](x))
        x = torch.tanh(self.layers[1](x))
        return self.layers[2](x)


ml = Net()
save_file(ml.state_dict(), OUT / "torch_modulelist.safetensors")

with torch.no_grad():
    logits = seq(xt)
    rows = xt[:8]
    out = {
        "torch": torch.__version__,
        "rows": rows.tolist(),
        "sequential": {
            "logits": seq(rows).tolist(),
            "probabilities": torch.softmax(seq(rows), dim=1).tolist(),
            "train_loss": nn.functional.cross_entropy(logits, yt).item(),
            "train_accuracy": (logits.argmax(1) == yt).float().mean().item(),
        },
        "modulelist": {"outputs": ml(rows).tolist()},
    }
(OUT / "torch_outputs.json").write_text(json.dumps(out, indent=1) + "\n")
print(json.dumps({k: v for k, v in out["sequential"].items() if "train" in k}))
