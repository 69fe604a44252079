"""Strategy selection from a flag and its user errors (the mirrored run itself: test_distribute_mirrored)."""

import pytest
import tensorflow as tf

from relsar_core.errors import ConfigError
from relsar_core.train.distribute import is_chief, make_strategy, replica_batch


def test_default_strategy_is_one_replica_and_chief():
    strategy = make_strategy("default")
    assert strategy.num_replicas_in_sync == 1 and is_chief(strategy)
    assert replica_batch(64, strategy) == 64


def test_global_batch_must_split_over_replicas():
    class TwoReplicas:
        num_replicas_in_sync = 2

    assert replica_batch(64, TwoReplicas()) == 32
    with pytest.raises(ConfigError, match="does not split evenly over 2 replicas"):
        replica_batch(65, TwoReplicas())


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (None, "TF_CONFIG is not set"),
        ("{not json", "not a valid cluster spec"),
        (
            '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
            "task index 3",
        ),
    ],
)
def test_multiworker_needs_a_valid_tf_config(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ConfigError, match=message):
        make_strategy("multiworker")


def test_unknown_strategy_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown strategy"):
        make_strategy("tpu")
    assert isinstance(make_strategy("default"), tf.distribute.Strategy)
