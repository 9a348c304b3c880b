"""RendersDataModule's one-time work: prepare_data decompresses, setup only opens; configs."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from datafiles import CATS, pattern_images, write_npz_split
from omegaconf import OmegaConf

from recon.data.categories import SPLITS
from recon.data.datamodule import RendersDataModule
from recon.data.npz_array import NpzArray
from recon.safe_instantiate import instantiate

CONFIG_DIR = Path(__file__).resolve().parents[3] / "configs" / "data"


@pytest.fixture
def compressed_root(tmp_path: Path) -> Path:
    root = tmp_path / "npz"
    for c, (synset, n) in enumerate(CATS.items()):
        for split in SPLITS:
            write_npz_split(root, synset, split, n, c, compressed=True)
    return root


@pytest.fixture
def extractions(monkeypatch) -> list[str]:
    """The names of the npz files decompressed into the cache, in order."""
    done: list[str] = []
    original = NpzArray._extract

    def counting(self, cache):
        done.append(self.path.name)
        original(self, cache)

    monkeypatch.setattr(NpzArray, "_extract", counting)
    return done


def _files(splits, voxels_in=("val", "test")) -> list[str]:
    """Expected decompressed files: images of every split, voxels of the evaluated ones."""
    names = [f"{s}_{sp}_images.npz" for s in CATS for sp in splits]
    names += [f"{s}_{sp}_voxels.npz" for s in CATS for sp in splits if sp in voxels_in]
    return sorted(names)


def test_prepare_data_extracts_and_setup_only_opens(compressed_root, tmp_path, extractions):
    dm = RendersDataModule(compressed_root, batch_size=2, cache_dir=tmp_path / "cache")
    dm.prepare_data()  # no trainer: every split
    assert sorted(extractions) == _files(SPLITS)
    assert dm._renders == {}  # prepare_data keeps no state (it runs on one rank per node)
    dm.setup()
    assert sorted(extractions) == _files(SPLITS)  # nothing extracted a second time
    first = dm.eval_dataset("test")[0]
    ref = pattern_images(CATS["02691156"], 0)[0, 0] / 255.0
    np.testing.assert_allclose(first["images"].numpy(), ref, atol=1e-7)
    assert first["voxels"].dtype == torch.bool


def test_setup_without_prepare_data_still_extracts(compressed_root, tmp_path, extractions):
    dm = RendersDataModule(compressed_root, batch_size=2, cache_dir=tmp_path / "cache")
    dm.setup("validate")
    assert sorted(extractions) == _files(["val"])
    RendersDataModule(compressed_root, batch_size=2, cache_dir=tmp_path / "cache").setup("validate")
    assert sorted(extractions) == _files(["val"])  # the next run finds the cache


@pytest.mark.parametrize("fn, splits", [("fit", ["train", "val"]), ("validate", ["val"]), ("test", ["test"])])
def test_prepare_data_extracts_the_splits_of_the_entry_point(compressed_root, tmp_path, extractions, fn, splits):
    dm = RendersDataModule(compressed_root, batch_size=2, cache_dir=tmp_path / "cache")
    dm.trainer = SimpleNamespace(state=SimpleNamespace(fn=fn), world_size=1)
    dm.prepare_data()
    assert sorted(extractions) == _files(splits)


def test_prepare_data_stages_argument(compressed_root, tmp_path, extractions):
    dm = RendersDataModule(compressed_root, batch_size=2, cache_dir=tmp_path / "cache")
    dm.prepare_data(stages=["test"])
    assert sorted(extractions) == _files(["test"])
    with pytest.raises(ValueError, match="unknown stage"):
        dm.prepare_data(stages=["holdout"])


def test_shapenet_config_passes_cache_dir(tmp_path, npz_root):
    cfg = OmegaConf.load(CONFIG_DIR / "shapenet.yaml")
    assert "cache_dir" in cfg and cfg.cache_dir is None
    cfg.root, cfg.seed = str(npz_root), 0
    assert instantiate(cfg).cache_dir is None
    cfg.cache_dir = "~/somewhere"
    dm = instantiate(cfg)
    assert isinstance(dm, RendersDataModule) and dm.cache_dir == Path.home() / "somewhere"


def test_old_target_name_still_instantiates(npz_root):
    cfg = OmegaConf.create({"_target_": "recon.data.datamodule.ShapeNetDataModule", "root": str(npz_root),
                            "batch_size": 2})
    with pytest.warns(DeprecationWarning, match="RendersDataModule"):
        dm = instantiate(cfg)
    assert type(dm) is RendersDataModule
    with pytest.raises(AttributeError):
        import recon.data.datamodule as module

        module.NoSuchDataModule  # noqa: B018


def test_lightning_fit_extracts_in_prepare_data_before_setup(compressed_root, tmp_path, extractions):
    import pytorch_lightning as pl

    class Probe(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.steps = {"train": 0, "val": 0}

        def training_step(self, batch, _):
            self.steps["train"] += 1
            return (self.w * batch["images_a"].mean()).sum()

        def validation_step(self, batch, _):
            self.steps["val"] += 1

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    class Recording(RendersDataModule):
        def setup(self, stage=None):
            before = len(extractions)
            super().setup(stage)
            self.setup_extracted = len(extractions) - before

    dm = Recording(compressed_root, batch_size=2, iterations_per_epoch=1, eval_views=[0],
                   cache_dir=tmp_path / "cache")
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=1, default_root_dir=tmp_path)
    model = Probe()
    trainer.fit(model, datamodule=dm)
    assert model.steps == {"train": 1, "val": 1}
    assert sorted(extractions) == _files(["train", "val"])  # by prepare_data ...
    assert dm.setup_extracted == 0  # ... so setup only opened the splits


def test_eval_loaders_split_every_sample_once_between_processes(npz_root):
    """Under data parallelism the val/test loaders give each process every world-th sample (no
    padding, which Lightning's default sampler would add), and refuse more processes than samples;
    synset ids given as ints (a command line's `data.categories=[90000004]`) become 8-digit strings."""
    from recon.evaluation.distributed_sampler import EvaluationSampler

    dm = RendersDataModule(npz_root, batch_size=2, eval_views=[0])
    dm.setup("test")
    total = len(dm.eval_dataset("test"))
    seen = []
    for rank in range(2):
        dm.trainer = SimpleNamespace(world_size=2, global_rank=rank)
        loader = dm.test_dataloader()
        assert isinstance(loader.sampler, EvaluationSampler)
        assert sum(len(batch["category"]) for batch in loader) == len(loader.sampler)
        seen += list(loader.sampler)
    assert sorted(seen) == list(range(total))
    dm.trainer = SimpleNamespace(world_size=total + 1, global_rank=0)
    with pytest.raises(ValueError, match=f"has {total} samples, fewer than the {total + 1} processes"):
        dm.val_dataloader()
    assert RendersDataModule(npz_root, categories=[2691156, "03001627"]).categories == ["02691156", "03001627"]
