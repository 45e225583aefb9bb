"""Every default hyperparameter, in one table per method.

A config overrides these per method (``methods.<name>``), then per dataset
for every method (``overrides.<dataset>.all``), then per dataset and method
(``overrides.<dataset>.<name>``). A key missing here is a typo in the config
and is rejected. Sources are noted beside each group.
"""

# Networks, shared by every method. "auto" picks the small DCGAN-style
# nets of nats/networks/conv.py for images and the MLPs for 2D points; the
# paper architectures are listed in ARCHITECTURES below. For images the
# widths are base channel counts, for 2D points the hidden units of the MLPs.
NETWORK_DEFAULTS = {
    "architecture": "auto",
    "z_dim": 100,
    "g_width": 32,
    "d_width": 32,
    "g_batch_norm": True,
    "d_batch_norm": False,
}

# xICFG, author defaults of the public cfg-gan-pt code (Johnson & Zhang):
# T = 15, U = 1, N = 640, 10 approximator epochs, RMSprop lr 2.5e-4 alpha
# 0.95 for D and the approximator. eta depends on the dataset (MNIST 0.5).
CFG_DEFAULTS = {
    **NETWORK_DEFAULTS,
    "eta": 0.5,
    "num_steps": 15,
    "d_updates": 1,
    "num_targets": 640,
    "approx_epochs": 10,
    "approx_lr_cuts": 3,
    "lr": 2.5e-4,
    "rmsprop_alpha": 0.95,
    "init_linear_std": 0.01,
    "init_fit_steps": 100,
    "divergence_limit": 40.0,
    "divergence_min_stage": 2000,
}

# Reconstruction of the annealed weight: geometric schedule with
# rho = lambda_T / lambda_1 = 0.1, mean-normalised.
ANNEALING_DEFAULTS = {
    "schedule": "geometric",
    "rho": 0.1,
    "grad_normalised": False,
}

# WGAN-GP (Gulrajani et al. 2017), ResNet setting: penalty weight 10,
# n_critic 5, Adam lr 2e-4, betas (0, 0.9). No batch norm in the critic.
WGAN_GP_DEFAULTS = {
    **NETWORK_DEFAULTS,
    "lr_d": 2e-4,
    "lr_g": 2e-4,
    "beta1": 0.0,
    "beta2": 0.9,
    "n_dis": 5,
    "gp_weight": 10.0,
    "g_batch_multiplier": 1,
    "lr_decay": "none",
}

# SNGAN (Miyato et al. 2018), unconditional: hinge loss, spectral norm on
# every D layer, n_dis 5, Adam lr 2e-4, betas (0, 0.9).
SNGAN_DEFAULTS = {
    **NETWORK_DEFAULTS,
    "lr_d": 2e-4,
    "lr_g": 2e-4,
    "beta1": 0.0,
    "beta2": 0.9,
    "n_dis": 5,
    "g_batch_multiplier": 1,
    "lr_decay": "none",
}

# NATS around a host: T annealing levels (None: the host's n_dis), U D
# updates per level, K regression steps of G, eta from {0.1, 0.25, 0.5, 1}.
NATS_DEFAULTS = {
    **ANNEALING_DEFAULTS,
    "eta": 0.5,
    "num_levels": None,
    "d_updates": 1,
    "g_regression_steps": 1,
}

METHOD_DEFAULTS = {
    "cfg": {**CFG_DEFAULTS, **ANNEALING_DEFAULTS, "schedule": "constant"},
    "annealed-cfg": {**CFG_DEFAULTS, **ANNEALING_DEFAULTS},
    "wgan-gp": WGAN_GP_DEFAULTS,
    "sngan": SNGAN_DEFAULTS,
    "nats-wgan-gp": {**WGAN_GP_DEFAULTS, **NATS_DEFAULTS},
    "nats-sngan": {**SNGAN_DEFAULTS, **NATS_DEFAULTS},
}

# Per-dataset training settings. Budgets are in thousands of real images
# shown to D (kimg); snapshots for the evaluation are taken every
# snapshot_kimg and at 0, resume checkpoints every checkpoint_kimg (None:
# every snapshot_kimg).
_IMAGE_FILES = {"data_root": "data", "download": False, "in_memory": "auto"}
_PAPER_TRAINING = {"batch_size": 64, "budget_kimg": 32000.0, "snapshot_kimg": 2000.0, "checkpoint_kimg": 500.0}
DATASET_DEFAULTS = {
    "digits": {"resolution": 16, "batch_size": 64, "budget_kimg": 40.0, "snapshot_kimg": 10.0, "checkpoint_kimg": None},
    "ring8": {"num_points": 20000, "data_seed": 0, "batch_size": 256, "budget_kimg": 200.0, "snapshot_kimg": 50.0, "checkpoint_kimg": None},
    "grid25": {"num_points": 20000, "data_seed": 0, "batch_size": 256, "budget_kimg": 200.0, "snapshot_kimg": 50.0, "checkpoint_kimg": None},
    # Image datasets read through torchvision from data_root (see
    # nats/data/images.py for the layout each one expects).
    "cifar10": {"resolution": 32, **_IMAGE_FILES, **_PAPER_TRAINING},
    "stl10": {"resolution": 48, **_IMAGE_FILES, **_PAPER_TRAINING},
    "celeba": {"resolution": 64, "center_crop": 140, **_IMAGE_FILES, **_PAPER_TRAINING},
    "lsun-bedroom": {"resolution": 64, **_IMAGE_FILES, **_PAPER_TRAINING},
    "lsun-church": {"resolution": 64, **_IMAGE_FILES, **_PAPER_TRAINING},
    "mnist": {"resolution": 32, **_IMAGE_FILES, **_PAPER_TRAINING},
    "svhn": {"resolution": 32, **_IMAGE_FILES, **_PAPER_TRAINING},
    # Any folder of images or .npz file, named freely in a config with
    # "source: imagefolder" or "source: npz" and a path.
    "imagefolder": {"resolution": 32, "path": None, "in_memory": "auto", **_PAPER_TRAINING},
    "npz": {"resolution": 32, "path": None, "npz_key": None, "in_memory": "auto", **_PAPER_TRAINING},
}

# Datasets that a config may name freely through "source"; the others are
# used under their own name.
DATASET_SOURCES = tuple(name for name in DATASET_DEFAULTS if name not in ("digits", "ring8", "grid25"))
IN_MEMORY_CHOICES = ("auto", True, False)

# Network architectures selectable with the "architecture" method setting,
# with the image sides each supports (None: any side the nets can build).
# nats/networks/registry.py builds them; a test keeps the two in step.
ARCHITECTURE_RESOLUTIONS = {
    "auto": None,
    "cfg-dcgan": (16, 32, 64),
    "cfg-resnet4": (64,),
    "sngan-resnet": (32, 48),
    "wgangp-resnet": (32,),
}
ARCHITECTURES = tuple(ARCHITECTURE_RESOLUTIONS)

# Speed settings of training on a GPU. They are no-ops on a CPU, where
# results stay bit-identical whatever their values.
PERFORMANCE_DEFAULTS = {
    "bf16": False,
    "channels_last": False,
    "tf32": True,
    "compile": False,
}

# Scheduler requests per rule: memory in MB, runtime in minutes, GPUs per
# job. Other keys (slurm_partition, slurm_account, gpu_model,
# cpus_per_task, slurm_extra) are passed to the executor as they are.
RESOURCE_DEFAULTS = {
    "train": {"mem_mb": 4096, "runtime": 240, "gpu": 0},
    "evaluate": {"mem_mb": 4096, "runtime": 60, "gpu": 0},
    "classifier": {"mem_mb": 2048, "runtime": 60, "gpu": 0},
}

# Evaluation protocols of the smoke config.
EVALUATION_DEFAULTS = {
    "digits": {
        "num_generated": 2000,
        "is_splits": 10,
        "prc_neighborhood": 3,
        "classifier_epochs": 30,
        "classifier_seed": 0,
    },
    "mixtures": {
        "num_samples": 2500,
        "quality_stds": 3.0,
        "min_mode_samples": 20,
    },
    # Paper-scale protocols for image datasets, opt-in through
    # images.protocols. Counts follow the common CIFAR-10 practice: 50K
    # generated against the full training split, IS over 10 splits, KID over
    # 100 subsets of 1000, precision/recall with k = 3 (Kynkaanniemi et al. 2019).
    "inception": {
        "num_generated": 50000,
        "reference": None,
        "reference_split": "train",
        "is_splits": 10,
        "kid_subsets": 100,
        "kid_subset_size": 1000,
        "prc_neighborhood": 3,
        "density_coverage": True,
        "metrics": ["fid", "is", "kid", "prc"],
        "batch_size": 64,
    },
    "clean": {
        "num_generated": 50000,
        "reference": None,
        "reference_split": "train",
        "kid_subsets": 100,
        "kid_subset_size": 1000,
        "metrics": ["fid", "kid"],
        "batch_size": 64,
    },
    "legacy": {
        "num_generated": 50000,
        "reference": None,
        "reference_split": "train",
        "kid_subsets": 100,
        "kid_subset_size": 1000,
        "metrics": ["fid", "kid"],
        "batch_size": 64,
    },
    "images": {
        "protocols": [],
        "checkpoints": "final",
        "cross_check_tolerance": 0.01,
        "cache_dir": None,
    },
    "inception_weights": {
        "torch_fidelity": None,
        "clean_fid": None,
    },
}

SCHEDULES = ("constant", "geometric", "linear", "cosine")
