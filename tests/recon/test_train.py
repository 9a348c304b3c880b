"""Training through the Hydra configs: composition, a few steps, resume, evaluation."""
from __future__ import annotations

import json

import pytest
from hydra.utils import instantiate

import renderers
from recon.eval import evaluate
from recon.train import train
from tests.recon.conftest import compose, tiny_overrides

EXPERIMENTS = ["quickstart", "softras_shapenet", "softras_color_shapenet", "nmr_shapenet"]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_instantiates(experiment, tmp_path):
    cfg = compose("train", [f"experiment={experiment}", "logger=csv", f"paths.output_dir={tmp_path}"])
    assert instantiate(cfg.data).batch_size == cfg.data.batch_size
    model = instantiate(cfg.model, category_names=["a", "b"])
    assert model.renderer.name == cfg.renderer.name
    assert model.net.decoder.predicts_colors == ("color" in experiment)
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.max_steps == cfg.trainer.max_steps


@pytest.mark.parametrize("group,option", [("trainer", "cpu"), ("trainer", "gpu"), ("trainer", "ddp"),
                                          ("trainer", "ddp_cpu"), ("trainer", "ddp_spawn"), ("logger", "wandb"),
                                          ("logger", "csv"), ("logger", "none"), ("model", "softras_color"),
                                          ("model", "nmr"), ("model/encoder", "resnet18"),
                                          ("model/encoder", "resnet34"), ("renderer", "nmr"), ("renderer", "opendr"), ("renderer", "edge"),
                                          ("hparams_search", "softras_optuna"), ("hydra/launcher", "local_parallel"),
                                          ("hydra/launcher", "slurm")])
def test_config_groups_compose(group, option, tmp_path):
    cfg = compose("train", [f"{group}={option}", f"paths.output_dir={tmp_path}"])
    if group == "model/encoder":
        assert cfg.model.encoder.name == "resnet"
    if group == "hparams_search":
        assert cfg.optimized_metric == "val/iou/mean"
    if group == "hydra/launcher":
        from hydra.core.hydra_config import HydraConfig

        launcher = HydraConfig.get().launcher._target_
        assert ("Joblib" if option == "local_parallel" else "Slurm") in launcher


def test_few_steps_then_resume_from_the_same_step(tiny_data, tmp_path):
    metrics, objects = train(compose("train", tiny_overrides(tiny_data, tmp_path / "a")))
    trainer = objects["trainer"]
    assert trainer.global_step == 4
    assert 0.0 <= metrics["val/iou/mean"] <= 1.0 and "test/iou/mean" in metrics
    assert {"val/iou/synth-chair", "val/iou/synth-car"} <= set(metrics)
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    assert last.is_file() and trainer.checkpoint_callback.best_model_path
    assert list((tmp_path / "a" / "previews").glob("*.png"))

    seen_steps = []
    resumed_cfg = compose("train", [*tiny_overrides(tiny_data, tmp_path / "b"), f"ckpt_path={last}",
                                    "trainer.max_steps=6", "test=false"])
    from pytorch_lightning import Callback

    class FirstStep(Callback):
        def on_train_batch_start(self, trainer, *args):
            seen_steps.append(trainer.global_step)

    from recon import train as train_module

    original = train_module.instantiate_callbacks
    train_module.instantiate_callbacks = lambda cfg: [*original(cfg), FirstStep()]
    try:
        _, resumed = train(resumed_cfg)
    finally:
        train_module.instantiate_callbacks = original
    assert seen_steps[0] == 4 and resumed["trainer"].global_step == 6


def test_evaluation_tables_and_files(tiny_data, tmp_path):
    train(compose("train", [*tiny_overrides(tiny_data, tmp_path / "run"), "test=false"]))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    cfg = compose("eval", [f"ckpt_path={ckpt}", "data=synthetic", f"data.root={tiny_data}",
                           "data.generate_if_missing=false", "data.eval_views=[0,6]", "data.num_workers=0",
                           f"paths.output_dir={tmp_path / 'eval'}", "extras.print_config=false"])
    tables = evaluate(cfg)
    assert set(tables) == {"val", "test"}
    report = json.loads((tmp_path / "eval" / "iou.json").read_text())
    val = report["splits"]["val"]
    assert set(val["iou"]) == {"ours", "template sphere r=0.25", next(k for k in val["iou"] if k.startswith("best"))}
    assert val["samples"] == {"synth-chair": 2, "synth-car": 2}
    csv_text = (tmp_path / "eval" / "iou_test.csv").read_text().splitlines()
    assert csv_text[0].startswith("class,ours,template sphere") and csv_text[-1].startswith("mean,")


def test_eval_reports_a_missing_checkpoint(tmp_path):
    cfg = compose("eval", [f"ckpt_path={tmp_path / 'nope.ckpt'}", f"paths.output_dir={tmp_path}"])
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        evaluate(cfg)


@pytest.mark.parametrize("value", [None, "null"])
def test_eval_without_ckpt_path_says_what_to_pass(value, tmp_path):
    overrides = [f"paths.output_dir={tmp_path}"] + ([] if value is None else [f"ckpt_path={value}"])
    with pytest.raises(ValueError, match="recon-eval needs a checkpoint: pass ckpt_path=PATH"):
        evaluate(compose("eval", overrides))


def test_eval_runs_through_lightning_with_a_progress_bar_and_the_seed(tiny_data, tmp_path, capfd):
    """recon-eval: Trainer.validate/test (their tqdm progress bars), the config's seed set
    first, the split refused when it is not val or test."""
    import torch

    train(compose("train", [*tiny_overrides(tiny_data, tmp_path / "run"), "test=false"]))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    base = [f"ckpt_path={ckpt}", "data=synthetic", f"data.root={tiny_data}", "data.generate_if_missing=false",
            "data.eval_views=[0]", "data.num_workers=0", f"paths.output_dir={tmp_path / 'eval'}",
            "extras.print_config=false", "trainer=cpu"]
    capfd.readouterr()
    tables = evaluate(compose("eval", [*base, "seed=4321"]))
    captured = capfd.readouterr()
    output = captured.out + captured.err
    assert "Validation DataLoader 0: 100%" in output and "Testing DataLoader 0: 100%" in output  # tqdm bars
    assert torch.initial_seed() == 4321
    assert tables["val"].counts == {"synth-chair": 1, "synth-car": 1}
    with pytest.raises(ValueError, match="splits must be among"):
        evaluate(compose("eval", [*base, "splits=[train]"]))


@pytest.mark.parametrize("name", [n for n in renderers.available() if n != "softras"])  # softras: the default
def test_training_runs_with_each_renderer(name, tiny_data, tmp_path):
    """`renderer=<name>` trains: every renderer has a config in configs/renderer and fits the module."""
    metrics, objects = train(compose("train", [*tiny_overrides(tiny_data, tmp_path), f"renderer={name}",
                                              "trainer.max_steps=2", "test=false"]))
    assert objects["model"].renderer.name == name and objects["trainer"].global_step == 2
    assert 0.0 <= metrics["val/iou/mean"] <= 1.0


def test_training_with_the_nmr_recipe_model(tiny_data, tmp_path):
    metrics, objects = train(compose("train", [*tiny_overrides(tiny_data, tmp_path), "renderer=nmr", "model=nmr",
                                              "trainer.max_steps=2", "test=false"]))
    assert objects["model"].renderer.name == "nmr" and objects["trainer"].global_step == 2
    assert 0.0 <= metrics["val/iou/mean"] <= 1.0
