"""What each lesson notebook promises to log to TensorBoard: topic -> run -> tags by kind.

The notebook-run tests and the TensorBoard server tests both check against this table.
Kinds: "images", "scalars", "histograms" (tag lists, exact) and "graph" (True when the run
holds a model graph).
"""

PROMISED: dict[str, dict[str, dict]] = {
    # filled in as the notebooks land
}
