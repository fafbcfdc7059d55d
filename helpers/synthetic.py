"""A CIFAR-shaped stand-in that needs no network and no files: ten classes of drawn shapes.

Every image is 32x32 RGB, ``uint8``: a background colour with a soft gradient, one shape or
pattern in a contrasting colour at a random position and size, and Gaussian noise. The class
is the shape, never the colour, so a network has to look at edges and layout to tell them
apart, which is what the CIFAR-10 lessons are about.

Images are generated in chunks of ``CHUNK`` from a NumPy generator seeded by
``(seed, split, chunk)``, so image ``i`` is the same whatever order you ask for it in, and
each chunk holds every class equally often.
"""

from __future__ import annotations

import numpy as np

CLASSES = (
    "disc",
    "ring",
    "square",
    "frame",
    "triangle",
    "cross",
    "diamond",
    "h-stripes",
    "v-stripes",
    "checker",
)
SIZE = 32
CHUNK = 500  # a multiple of len(CLASSES): every chunk is balanced
_SPLITS = {"train": 1, "test": 2}


def generate_chunk(seed: int, split: str, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(CHUNK, 32, 32, 3)`` uint8 and labels ``(CHUNK,)`` int64 of one chunk."""
    rng = np.random.default_rng([seed, _SPLITS[split], chunk])
    n = CHUNK
    labels = rng.permutation(np.arange(n) % len(CLASSES))

    # Per-image drawing parameters, shape (n, 1, 1) so they broadcast over the pixel grid.
    def per_image(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, size=(n, 1, 1)).astype(np.float32)

    radius = per_image(5.0, 11.0)
    cx = 15.5 + per_image(-1.0, 1.0) * (15.0 - radius)
    cy = 15.5 + per_image(-1.0, 1.0) * (15.0 - radius)
    period = per_image(3.0, 6.0)
    phase = per_image(0.0, 2 * np.pi)

    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    dx, dy = x[None] - cx, y[None] - cy
    masks = _shape_masks(labels, dx, dy, radius, period, phase)

    background, foreground = _colours(rng, n)
    # A soft linear gradient across the background, in a random direction.
    angle = per_image(0.0, 2 * np.pi)
    strength = per_image(0.0, 0.25)
    ramp = (np.cos(angle) * (x - 15.5) + np.sin(angle) * (y - 15.5)) / 32.0 * strength
    # Drawn channels-first, (n, 3, 32, 32), so every step runs over whole rows of pixels, then
    # stored as (n, 32, 32, 3) like CIFAR-10. Each pixel gets the same float32 operations.
    images = background[:, :, None, None] + ramp[:, None]
    np.copyto(images, foreground[:, :, None, None], where=masks[:, None])
    noise = per_image(0.0, 0.12)[..., None] * rng.standard_normal((n, SIZE, SIZE, 1), np.float32)
    images += noise.reshape(n, 1, SIZE, SIZE)  # the same noise in every channel
    images *= 255
    images += 0.5
    np.clip(images, 0, 255, out=images)
    pixels = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    pixels[...] = images.transpose(0, 2, 3, 1)  # float -> uint8 drops the fraction, like astype
    return pixels, labels.astype(np.int64)


def _shape_masks(labels, dx, dy, r, period, phase) -> np.ndarray:
    """Boolean masks ``(n, 32, 32)``: which pixels belong to each image's shape."""
    masks = np.zeros(dx.shape, dtype=bool)
    for k, draw in enumerate(_DRAW):
        rows = np.flatnonzero(labels == k)
        masks[rows] = draw(dx[rows], dy[rows], r[rows], period[rows], phase[rows])
    return masks


def _thickness(r):
    return np.maximum(1.5, r / 4)


def _box(dx, dy):
    return np.maximum(np.abs(dx), np.abs(dy))


# One drawing rule per class, in CLASSES order: offsets from the centre -> boolean mask.
_DRAW = (
    lambda dx, dy, r, p, ph: np.hypot(dx, dy) <= r,  # disc
    lambda dx, dy, r, p, ph: np.abs(np.hypot(dx, dy) - r + _thickness(r) / 2)
    <= _thickness(r) / 2,  # ring
    lambda dx, dy, r, p, ph: _box(dx, dy) <= r * 0.85,  # square
    lambda dx, dy, r, p, ph: np.abs(_box(dx, dy) - r * 0.85 + _thickness(r) / 2)
    <= _thickness(r) / 2,  # frame
    lambda dx, dy, r, p, ph: (dy <= r * 0.7) & (np.abs(dx) <= (dy + r) * 0.6),  # triangle
    lambda dx, dy, r, p, ph: (np.minimum(np.abs(dx), np.abs(dy)) <= _thickness(r) / 2 + 0.5)
    & (_box(dx, dy) <= r),  # cross
    lambda dx, dy, r, p, ph: np.abs(dx) + np.abs(dy) <= r,  # diamond
    lambda dx, dy, r, p, ph: (np.sin(2 * np.pi * dy / p + ph) > 0) & (_box(dx, dy) <= r),
    lambda dx, dy, r, p, ph: (np.sin(2 * np.pi * dx / p + ph) > 0) & (_box(dx, dy) <= r),
    lambda dx, dy, r, p, ph: ((np.floor(2 * dx / p + ph) + np.floor(2 * dy / p)) % 2 == 0)
    & (_box(dx, dy) <= r),  # checker
)


def _colours(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Background and foreground RGB in [0, 1], shape ``(n, 3)``, with visible contrast."""
    background = rng.uniform(0.0, 1.0, size=(n, 3))
    foreground = rng.uniform(0.0, 1.0, size=(n, 3))
    weights = np.array([0.299, 0.587, 0.114])
    too_close = np.abs((foreground - background) @ weights) < 0.25
    # Push a too-similar foreground to the opposite end of the brightness range.
    foreground[too_close] = np.where(
        (background[too_close] @ weights)[:, None] > 0.5,
        foreground[too_close] * 0.3,
        0.7 + foreground[too_close] * 0.3,
    )
    return background.astype(np.float32), foreground.astype(np.float32)
