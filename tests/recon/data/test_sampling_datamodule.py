"""Class-balanced pair sampling and the LightningDataModule."""
from __future__ import annotations

import torch
from datafiles import CATS

from recon.data.datamodule import RendersDataModule
from recon.data.sampling import ClassBalancedPairSampler


def test_sampler_is_deterministic_and_class_balanced():
    s = ClassBalancedPairSampler([2, 50, 0, 7], num_samples=20000, seed=3)
    a = torch.tensor(list(s))
    b = torch.tensor(list(ClassBalancedPairSampler([2, 50, 0, 7], 20000, seed=3)))
    assert torch.equal(a, b)
    assert not torch.equal(a, torch.tensor(list(s)))  # the next epoch differs
    s.set_epoch(0)
    assert torch.equal(a, torch.tensor(list(s)))
    assert a.shape == (20000, 4)
    counts = torch.bincount(a[:, 0], minlength=4).float() / len(a)
    assert counts[2] == 0  # an empty class is never drawn
    for c in (0, 1, 3):  # classes uniform regardless of their size
        assert abs(counts[c] - 1 / 3) < 0.02
    n = torch.tensor([2, 50, 0, 7])
    assert bool((a[:, 1] < n[a[:, 0]]).all()) and bool((a[:, 1] >= 0).all())
    assert int(a[:, 2].min()) == 0 and int(a[:, 2].max()) == 23
    assert (a[:, 2] == a[:, 3]).float().mean() < 0.1  # two independent views
    objs_of_1 = torch.bincount(a[a[:, 0] == 1, 1], minlength=50)
    assert int((objs_of_1 > 0).sum()) == 50


def _batches(dm, n):
    out = []
    for i, b in enumerate(dm.train_dataloader()):
        if i == n:
            break
        out.append(b)
    return out


def test_datamodule_train_batches(npz_root):
    dm = RendersDataModule(npz_root, batch_size=6, num_workers=0, iterations_per_epoch=4, seed=1)
    dm.setup("fit")
    batches = _batches(dm, 10)
    assert len(batches) == 4
    b = batches[0]
    assert b["images_a"].shape == (6, 4, 64, 64) and b["images_b"].dtype == torch.float32
    assert b["eye_a"].shape == (6, 3) and b["eye_b"].shape == (6, 3)
    for k in ("view_a", "view_b", "category", "object_index"):
        assert b[k].shape == (6,) and b[k].dtype == torch.long
    assert float(b["images_a"].max()) <= 1.0 and float(b["images_a"].min()) >= 0.0


def test_workers_give_the_same_stream(npz_root):
    base = _batches(RendersDataModule(npz_root, batch_size=5, num_workers=0, iterations_per_epoch=6, seed=7), 6)
    multi = _batches(RendersDataModule(npz_root, batch_size=5, num_workers=2, iterations_per_epoch=6, seed=7), 6)
    assert len(base) == len(multi) == 6
    for x, y in zip(base, multi, strict=True):
        for k in x:
            assert torch.equal(x[k], y[k]), k
    keys = torch.cat([torch.stack([b["object_index"], b["view_a"], b["view_b"]], 1) for b in multi])
    assert len(torch.unique(keys, dim=0)) > 0.8 * len(keys)  # not duplicated across workers


def test_datamodule_eval_batches(npz_root):
    dm = RendersDataModule(npz_root, batch_size=4, eval_batch_size=24, num_workers=0)
    dm.setup("fit")
    dm.setup("test")
    for loader in (dm.val_dataloader(), dm.test_dataloader()):
        seen = 0
        for b in loader:
            assert b["images"].shape[1:] == (4, 64, 64) and b["eye"].shape[1:] == (3,)
            assert b["voxels"].dtype == torch.bool and b["voxels"].shape[1:] == (32, 32, 32)
            assert torch.equal(b["view"], torch.arange(24))
            assert len(torch.unique(b["object_index"])) == 1
            seen += len(b["images"])
        assert seen == sum(CATS.values()) * 24
    assert dm.category_names == ["airplane", "chair"]


def test_datamodule_folders_and_category_subset(folder_root):
    dm = RendersDataModule(folder_root, categories=["03001627"], batch_size=3, layout="folders",
                            iterations_per_epoch=2)
    dm.setup("fit")
    b = next(iter(dm.train_dataloader()))
    assert torch.all(b["category"] == 0)
    assert len(dm.eval_dataset("val")) == 5 * 24


def test_lightning_trainer_uses_the_datamodule(npz_root, tmp_path):
    import pytorch_lightning as pl

    class Probe(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.seen = {"train": 0, "val": 0}

        def training_step(self, batch, _):
            assert batch["images_a"].shape == (4, 4, 64, 64)
            self.seen["train"] += 1
            return (self.w * batch["images_a"].mean()).sum()

        def validation_step(self, batch, _):
            assert batch["voxels"].dtype == torch.bool
            self.seen["val"] += len(batch["images"])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    dm = RendersDataModule(npz_root, batch_size=4, num_workers=2, iterations_per_epoch=3)
    model = Probe()
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0,
                         default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    assert model.seen["train"] == 6
    assert model.seen["val"] == 2 * sum(CATS.values()) * 24
