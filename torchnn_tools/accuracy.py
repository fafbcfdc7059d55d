"""Is the synthetic stand-in learnable, and not trivially so?

Trains the lesson's CifarNet exactly as the optimizer notebook does (SGD, lr 0.01, momentum
0.9, batch 64, inputs normalised to [-1, 1]) on 10,000 synthetic training images for three
epochs, and prints the test accuracy (10,000 test images) after each epoch. The target: at
least 90% after epoch 3, below 100% after epoch 1.

    .venv/bin/python -m torchnn_tools.accuracy
"""

from __future__ import annotations

import sys

from helpers.data import SyntheticShapes
from helpers.session import seed_everything
from torchnn_tools.bench import train_lesson_network


def main(train_images: int = 10_000, epochs: int = 3, seed: int = 0) -> int:
    seed_everything(seed)
    history = train_lesson_network(SyntheticShapes(train=True, size=train_images),
                                   SyntheticShapes(train=False, size=10_000), train_images,
                                   10_000, epochs, batch_size=64, seed=seed, device="cpu",
                                   test_batch_size=500)
    first, last = history[0].test_accuracy, history[-1].test_accuracy
    ok = last >= 0.90 and first < 1.0
    print(f"after epoch 1: {first:.2%}, after epoch {epochs}: {last:.2%} -> "
          f"{'meets' if ok else 'MISSES'} the target (>= 90% after 3 epochs, < 100% after 1)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
