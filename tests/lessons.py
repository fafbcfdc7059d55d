"""What each lesson notebook promises to log to TensorBoard: topic -> run -> tags by kind.

The notebook-run tests and the TensorBoard server tests both check against this table.
Kinds: "images", "scalars", "histograms" (tag lists, exact) and "graph" (True when the run
holds a model graph).
"""

PROMISED: dict[str, dict[str, dict]] = {
    "module": {
        "addtwo": {"graph": True},
        "smallnet": {
            "scalars": ["buffers/bn_running_mean"],
            "histograms": [
                "parameters/hidden.bias",
                "parameters/hidden.weight",
                "parameters/norm.bias",
                "parameters/norm.weight",
                "parameters/out.bias",
                "parameters/out.weight",
            ],
            "graph": True,
        },
    },
    "conv2d": {
        "photo": {"images": ["photo/blur_7x7", "photo/edge_strength", "photo/original"]},
        "single_conv": {
            "images": ["input", "output/channels", "pitfall/source_reshape"],
            "histograms": ["output/values"],
            "graph": True,
        },
    },
    "maxpool2d": {
        "images": {
            "images": ["avgpool_k3_ceil", "input", "maxpool_k3_ceil"],
            "scalars": ["brightness/avgpool", "brightness/input", "brightness/maxpool"],
        }
    },
    "activations": {
        "images": {
            "images": [
                "normalized/input",
                "normalized/relu",
                "normalized/sigmoid",
                "to_tensor/input",
                "to_tensor/relu",
                "to_tensor/sigmoid",
            ],
            "histograms": ["values/normalized_input", "values/relu", "values/sigmoid"],
        },
        "vanishing": {"scalars": ["grad_norm/relu", "grad_norm/sigmoid"]},
    },
    "linear": {
        "per_image": {
            "images": ["input/images", "linear/weight_rows"],
            "histograms": ["linear/bias", "linear/weight"],
            "graph": True,
        }
    },
    "sequential": {
        "cifarnet": {
            "images": [
                "feature_maps/0_conv2d",
                "feature_maps/1_maxpool2d",
                "feature_maps/2_conv2d",
                "feature_maps/3_maxpool2d",
                "feature_maps/4_conv2d",
                "feature_maps/5_maxpool2d",
                "input",
            ],
            "graph": True,
        },
        "cifarnet_layers": {"graph": True},
        "residual": {"graph": True},
    },
    "loss": {
        "backward": {
            "scalars": ["loss/batch"],
            "histograms": [
                "grad/0.bias",
                "grad/0.weight",
                "grad/2.bias",
                "grad/2.weight",
                "grad/4.bias",
                "grad/4.weight",
                "grad/7.bias",
                "grad/7.weight",
                "grad/8.bias",
                "grad/8.weight",
                "weight/0.bias",
                "weight/0.weight",
                "weight/2.bias",
                "weight/2.weight",
                "weight/4.bias",
                "weight/4.weight",
                "weight/7.bias",
                "weight/7.weight",
                "weight/8.bias",
                "weight/8.weight",
            ],
        }
    },
    "optimizer": {
        "adam": {"scalars": ["accuracy/val", "loss/train", "loss/train_step", "loss/val"]},
        "rmsprop": {"scalars": ["accuracy/val", "loss/train", "loss/train_step", "loss/val"]},
        "sgd": {"scalars": ["accuracy/val", "loss/train", "loss/train_step", "loss/val"]},
        "sgd-momentum": {"scalars": ["accuracy/val", "loss/train", "loss/train_step",
                                     "loss/val"]},
    },
}
