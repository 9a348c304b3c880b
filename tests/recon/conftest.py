"""Fixtures for the training-framework tests: tiny generated data and composed Hydra configs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")

TINY_CATEGORIES = ["90000001", "90000004"]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """Two synthetic classes, 3 train / 1 val / 1 test object each, in the ShapeNet npz format."""
    from recon.data.synthetic import generate

    root = tmp_path_factory.mktemp("tiny_synthetic")
    generate(root, seed=0, objects_per_class={"train": 3, "val": 1, "test": 1}, categories=TINY_CATEGORIES,
             progress=False)
    return root


def tiny_overrides(data_root: Path, output_dir: Path) -> list[str]:
    """A quickstart run shrunk to seconds: 2 classes, batch 4, 2 views per evaluated object."""
    return [
        "experiment=quickstart", f"data.root={data_root}", "data.generate_if_missing=false",
        "data.batch_size=4", "data.iterations_per_epoch=2", "data.eval_batch_size=8", "data.eval_views=[0,12]",
        "data.num_workers=0", "trainer.max_steps=4", "logger=csv", "extras.print_config=false",
        f"paths.output_dir={output_dir}", f"paths.log_dir={output_dir}/logs",
        "callbacks.rich_progress_bar=null",
    ]


def compose(config_name: str, overrides: list[str]):
    """The composed config, with Hydra's runtime set so ``${hydra:...}`` resolves."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from recon.hydra_utils import CONFIG_DIR, set_project_root

    set_project_root()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = hydra_compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg
