from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ftir_unmixer.training.config import CONFIG_DIR

GROUP_OPTIONS = [
    (group.name, option.stem)
    for group in sorted(Path(CONFIG_DIR).iterdir())
    if group.is_dir() and group.name not in {"hydra", "hparams_search", "launcher"}
    for option in sorted(group.glob("*.yaml"))
]


@pytest.mark.parametrize(("group", "option"), GROUP_OPTIONS)
def test_every_config_group_option_composes_and_resolves(compose_train, group, option):
    cfg = compose_train([f"{group}={option}"])
    container = OmegaConf.to_container(cfg, resolve=True)
    assert container["seed"] == 42


def test_public_keys_and_defaults(compose_train):
    cfg = compose_train([])
    assert cfg.data.path is None
    assert cfg.data.normalization == "band_minmax"
    assert cfg.data.patch_size == 5
    assert cfg.data.patches_per_epoch == 20000
    assert cfg.data.batch_size == 64
    assert cfg.model.num_endmembers == 10
    assert cfg.model.softmax_scale == 3.5
    assert cfg.model.hidden_channels == 48
    assert cfg.model.dropout == 0.2
    assert cfg.model.lr == 0.005
    assert cfg.loss.name == "wsad"
    bw = cfg.loss.band_weights
    assert (bw.gamma_rough, bw.tau, bw.sharpness, bw.w_min) == (0.75, 3.0, 2.0, 0.05)
    assert bw.gamma_flat > 0
    assert list(bw.bad_windows) == []
    assert cfg.trainer.max_epochs == 500
    assert cfg.seed == 42
    assert "wandb" in cfg.logger


def test_experiments_set_what_the_paper_and_script_state(compose_train):
    paper = compose_train(["experiment=paper"])
    assert paper.model.lr == 0.005 and paper.trainer.max_epochs == 500
    assert paper.loss.name == "wsad" and paper.loss.band_weights.gamma_flat > 0
    script = compose_train(["experiment=reference_script"])
    assert script.model.lr == 0.001 and script.trainer.max_epochs == 500
    assert script.loss.band_weights.gamma_flat == 0.0
    assert script.data.resample_each_epoch is False


def test_loss_name_switch_keeps_band_weight_settings(compose_train):
    cfg = compose_train(["loss=sad"])
    assert cfg.loss.name == "sad"
    assert cfg.loss.band_weights.tau == 3.0


def test_data_config_instantiates_without_reading(compose_train):
    cfg = compose_train([])
    dm = instantiate(cfg.data)
    assert dm.band_weight_config.gamma_rough == 0.75
    assert dm.path is None and dm.synthetic is not None
