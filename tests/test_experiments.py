"""The paper's experiments, sweeps and launchers as configs, with the values the paper states."""

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from ftir_unmixer.training.config import CONFIG_DIR

EXPERIMENTS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


def _compose(overrides: list[str]) -> DictConfig:
    """The full config (with its hydra node), hydra resolvers usable."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIG_DIR)):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = "/nonexistent/run"
    HydraConfig().set_config(cfg)
    return cfg


def _sweep(cfg: DictConfig) -> dict[str, list]:
    """``hydra.sweeper.params`` expanded into the values every key takes."""
    parser = OverridesParser.create()
    params = cfg.hydra.sweeper.params or {}
    return {
        key: list(parser.parse_override(f"{key}={value}").sweep_iterator())
        for key, value in params.items()
    }


def _task(cfg: DictConfig) -> dict:
    """The job's config without the hydra node, resolved."""
    task = cfg.copy()
    with open_dict(task):
        del task["hydra"]
    return OmegaConf.to_container(task, resolve=True)


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


def _assert_paper_settings(cfg: DictConfig) -> None:
    """Sec. III: K = 10, 5×5 patches, 20 000 patches, Adam lr 0.005, 500 epochs."""
    assert cfg.model.num_endmembers == 10
    assert cfg.model.lr == 0.005
    assert cfg.data.patch_size == 5
    assert cfg.data.patches_per_epoch == 20000
    assert cfg.data.normalization == "band_minmax"
    assert cfg.trainer.max_epochs == 500


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_with_its_swept_values(name):
    cfg = _compose([f"experiment={name}"])
    for key, values in _sweep(cfg).items():
        # The ends of every sweep (each ablation variant is composed in its own test).
        for value in {values[0], values[-1]}:
            job = _compose([f"experiment={name}", f"{key}={value}"])
            assert _task(job)["model"]["_target_"]


def test_paper_sad_and_paper_wsad_differ_only_in_the_loss():
    sad, wsad = _compose(["experiment=paper_sad"]), _compose(["experiment=paper_wsad"])
    _assert_paper_settings(sad)
    _assert_paper_settings(wsad)
    assert (sad.loss.name, wsad.loss.name) == ("sad", "wsad")
    sad_task, wsad_task = _task(sad), _task(wsad)
    for task in (sad_task, wsad_task):
        task["loss"].pop("name")
        task["logger"]["wandb"].pop("name")
        task["logger"]["wandb"].pop("job_type")
        task["logger"]["wandb"]["tags"].pop(0)
    assert sad_task == wsad_task
    assert sad.task_name == wsad.task_name == "paper_fig6"


def test_w_and_b_run_name_group_and_tags_derive_from_the_config():
    wandb = _compose(["experiment=paper_sad", "seed=7"]).logger.wandb
    assert wandb.name == "sad-K10-s7"
    assert wandb.group == "paper_fig6"
    assert wandb.job_type == "sad"
    assert list(wandb.tags) == ["sad", "K10", "paper_fig6", "ftir_unmixer"]


def test_k_selection_sweeps_k_6_to_20_with_sad():
    cfg = _compose(["experiment=k_selection"])
    assert _sweep(cfg) == {"model.num_endmembers": list(range(6, 21))}
    assert cfg.loss.name == "sad"  # Fig. 5: "CNNAE with SAD loss"
    assert cfg.model.lr == 0.005 and cfg.trainer.max_epochs == 500


def test_band_weight_ablation_variants():
    cfg = _compose(["experiment=band_weight_ablation"])
    assert cfg.loss.name == "wsad"
    _assert_paper_settings(cfg)
    expected = {
        # variant: (γ_rough, γ_flat, τ, w_min); α_w stays 2.0.
        "corr_only": (0.0, 0.0, 3.0, 0.05),
        "corr_rough": (0.75, 0.0, 3.0, 0.05),
        "corr_flat": (0.0, 0.5, 3.0, 0.05),
        "all_terms": (0.75, 0.5, 3.0, 0.05),
        "w_min_0": (0.75, 0.5, 3.0, 0.0),
        "w_min_0_2": (0.75, 0.5, 3.0, 0.2),
        "tau_2": (0.75, 0.5, 2.0, 0.05),
        "tau_4": (0.75, 0.5, 4.0, 0.05),
    }
    sweep = _sweep(cfg)
    assert sweep == {"+loss/band_weights": list(expected)}
    for variant, values in expected.items():
        job = _compose(["experiment=band_weight_ablation", f"+loss/band_weights={variant}"])
        bw = job.loss.band_weights
        assert (bw.gamma_rough, bw.gamma_flat, bw.tau, bw.w_min) == values, variant
        assert bw.sharpness == 2.0


def test_seeds_replicates_the_paper_run_over_five_seeds():
    cfg = _compose(["experiment=seeds"])
    assert _sweep(cfg) == {"seed": [0, 1, 2, 3, 4]}
    assert cfg.loss.name == "wsad"
    _assert_paper_settings(cfg)


def test_reference_script_and_paper_are_unchanged():
    script = _compose(["experiment=reference_script"])
    assert script.model.lr == 0.001 and script.loss.band_weights.gamma_flat == 0.0
    assert not script.data.resample_each_epoch
    _assert_paper_settings(_compose(["experiment=paper"]))


def _flatten(tree: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_recommended_and_full_image_change_only_their_levers_of_the_paper():
    paper = _flatten(_task(_compose(["experiment=paper"])))
    recommended = _flatten(_task(_compose(["experiment=recommended"])))
    changed = {
        key: (paper.get(key), value)
        for key, value in recommended.items()
        if paper.get(key) != value and not key.startswith("logger.")
    }
    assert changed == {
        "task_name": ("paper", "recommended"),
        "loss.name": ("wsad", "sad"),
        "data.normalization": ("band_minmax", "none"),
        "data.patches_per_epoch": (20000, 5000),
        "trainer.max_epochs": (500, 5),
        "model.init_endmembers": ("random", "nmf"),
        "model.decoder_lr_scale": (1.0, 0.1),
        "model.patch_size": (5, 1),
        "model.baseline_degree": (-1, 1),
        "model.atmosphere_components": (0, 1),
    }
    full = _compose(["experiment=full_image"])
    assert (full.data.mode, full.data.batch_size, full.data.patches_per_epoch) == (
        "full_image",
        1,
        24,
    )
    assert full.model.init_endmembers == "random" and full.loss.name == "wsad"


def test_sweep_demo_is_small():
    cfg = _compose(["experiment=sweep_demo"])
    assert _sweep(cfg) == {"loss.name": ["sad", "wsad"], "model.num_endmembers": [4, 6, 8]}
    assert cfg.synthetic.num_bands * cfg.synthetic.step == pytest.approx(2892, abs=1)
    assert cfg.trainer.max_epochs <= 20


def test_wsad_optuna_search_space():
    cfg = _compose(["hparams_search=wsad_optuna"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper")
    assert sweeper.direction == "minimize"
    assert cfg.optimized_metric == "gt/mean_angle_deg"
    assert cfg.hydra.mode == RunMode.MULTIRUN
    parser = OverridesParser.create()
    bounds = {}
    for key, value in sweeper.params.items():
        interval = parser.parse_override(f"{key}={value}").value()
        bounds[key] = (interval.start, interval.end)
    assert bounds == {
        "loss.band_weights.gamma_rough": (0.0, 2.0),
        "loss.band_weights.gamma_flat": (0.0, 2.0),
        "loss.band_weights.tau": (1.0, 6.0),
        "loss.band_weights.sharpness": (0.5, 5.0),
        "loss.band_weights.w_min": (0.0, 0.3),
        "model.softmax_scale": (1.0, 8.0),
    }
    # The defaults of the script and the paper lie inside the search space.
    for key, (lo, hi) in bounds.items():
        assert lo <= OmegaConf.select(cfg, key) <= hi, key


def test_launchers():
    parallel = _compose(["hydra/launcher=parallel"]).hydra
    assert parallel.launcher._target_.endswith("JoblibLauncher")
    assert parallel.launcher.n_jobs == 2
    assert dict(parallel.job.env_set) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    slurm = _compose(["hydra/launcher=slurm"]).hydra.launcher
    assert slurm._target_.endswith("SlurmLauncher")
    assert slurm.gpus_per_node == 1 and slurm.timeout_min > 0
