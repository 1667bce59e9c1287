"""Signal augmentations: ECVL text that reads back through the same factory and parser, replay
with a seed, the documented effect of each, and errors with line and column."""

import numpy as np
import pytest

from deephealth.ecvl.augment.factory import AugmentationFactory
from deephealth.ecvl.augment.parser import AugmentationSyntaxError
from deephealth.ecvl.augment.rng import AugmentationParam, keyed_rng
from deephealth.ecvl.augment.signal import SIGNAL_AUGMENTATIONS, SignalArray
from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.signal import Signal

TEXT = """SequentialAugmentationContainer
    AugTimeShift shift=[-0.5,0.5]
    AugAmplitudeScale factor=[0.8,1.2]
    AugSignalNoise std=[0,0.1]
    AugBaselineWander amplitude=[0,0.5] freq=[0.05,0.5]
    AugPowerlineNoise amplitude=[0,0.2] freq=60
    AugChannelDropout p=0.2
    AugTimeMask length=[0,0.5]
    AugSignFlip p=0.5
end"""


def _x(fs=250.0):
    t = np.arange(1000) / fs
    return SignalArray(np.stack([np.sin(2 * np.pi * 7 * t), np.cos(2 * np.pi * 3 * t), t]), fs)


def test_text_round_trip_and_every_augmentation_covered():
    aug = AugmentationFactory.create(TEXT)
    assert aug.to_text() == TEXT
    assert {type(a) for a in aug} == set(SIGNAL_AUGMENTATIONS)
    for a in aug:
        assert AugmentationFactory.create(a.to_text()) == a


def test_replay_with_seed():
    aug = AugmentationFactory.create(TEXT)
    y1, _ = aug.apply_arrays(_x(), None, keyed_rng(3, 1, 2))
    y2, _ = aug.apply_arrays(_x(), None, keyed_rng(3, 1, 2))
    y3, _ = aug.apply_arrays(_x(), None, keyed_rng(3, 1, 3))
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(y1, y3)
    sig1, sig2 = Signal(_x(), 250.0), Signal(_x(), 250.0)
    AugmentationParam.SetSeed(5)
    aug.Apply(sig1)
    AugmentationParam.SetSeed(5)
    aug.Apply(sig2)
    np.testing.assert_array_equal(sig1.data, sig2.data)


def test_effects():
    x = _x()
    rng = np.random.default_rng(0)
    shift = AugmentationFactory.create("AugTimeShift shift=[0.1,0.1]")
    np.testing.assert_array_equal(shift.apply_arrays(x, None, rng)[0], np.roll(x, 25, axis=-1))
    scale = AugmentationFactory.create("AugAmplitudeScale factor=[2,2]")
    np.testing.assert_allclose(scale.apply_arrays(x, None, rng)[0], 2 * x, rtol=1e-6)
    flip = AugmentationFactory.create("AugSignFlip p=1")
    np.testing.assert_array_equal(flip.apply_arrays(x, None, rng)[0], -x)
    mask = AugmentationFactory.create("AugTimeMask length=[0.4,0.4]")
    y = mask.apply_arrays(x, None, rng)[0]
    assert ((y == 0).all(axis=0)).sum() >= 100
    drop = AugmentationFactory.create("AugChannelDropout p=1")
    y = drop.apply_arrays(x, None, rng)[0]
    assert ((y == 0).all(axis=1)).sum() == 2  # never every channel
    hum = AugmentationFactory.create("AugPowerlineNoise amplitude=[1,1] freq=50")
    d = hum.apply_arrays(x, None, rng)[0] - x
    f = np.fft.rfftfreq(1000, 1 / 250.0)[np.abs(np.fft.rfft(d[0])).argmax()]
    assert f == pytest.approx(50.0)
    noise = AugmentationFactory.create("AugSignalNoise std=[0.5,0.5]")
    d = noise.apply_arrays(x, None, rng)[0] - x
    np.testing.assert_allclose(d.std(axis=1), 0.5 * x.std(axis=1), rtol=0.1)
    wander = AugmentationFactory.create("AugBaselineWander amplitude=[1,1] freq=[0.25,0.25]")
    d = wander.apply_arrays(x, None, rng)[0] - x
    assert np.abs(np.fft.rfft(d[0])).argmax() == 1  # 0.25 Hz over 4 s: the first bin


def test_errors():
    with pytest.raises(AugmentationSyntaxError, match="line 1, column 20"):
        AugmentationFactory.create("AugTimeShift shift=3")
    with pytest.raises(AugmentationSyntaxError, match="p must be in"):
        AugmentationFactory.create("AugChannelDropout p=2")
    with pytest.raises(EcvlError, match="sampling rate"):
        AugmentationFactory.create("AugTimeShift shift=[0,1]").apply_arrays(
            np.zeros((1, 10)), None, np.random.default_rng()
        )
