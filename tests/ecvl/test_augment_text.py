"""The ECVL augmentation text syntax: round trip over every augmentation, use-case strings, errors."""

from __future__ import annotations

import inspect

import pytest

import deephealth.ecvl as ecvl
from deephealth.ecvl.augment import signal as sa
from deephealth.ecvl.augment.base import REGISTRY

# One instance of every augmentation with non-default parameters (constructor form).
EVERY = [
    ecvl.AugRotate([-5, 5], center=[10, 20], scale=0.5, interp="cubic", gt_interp="nearest"),
    ecvl.AugResizeDim([30, 40], interp="area"),
    ecvl.AugResizeScale([0.5, 0.25], interp="lanczos4", gt_interp="nearest"),
    ecvl.AugFlip(0.3),
    ecvl.AugMirror(0.7),
    ecvl.AugTranspose(0.2),
    ecvl.AugGaussianBlur([0.2, 0.4]),
    ecvl.AugAdditiveLaplaceNoise([0, 12.75]),
    ecvl.AugAdditivePoissonNoise([2.0, 3.0]),
    ecvl.AugGammaContrast([0.5, 1.5]),
    ecvl.AugBrightness([30, 60]),
    ecvl.AugCoarseDropout([0, 0.55], [0.02, 0.1], 0.5),
    ecvl.AugGridDistortion([5, 10], [-0.2, 0.2], "linear", "reflect_101", 0),
    ecvl.AugElasticTransform([34, 60], [4, 6], "linear", "constant", 7),
    ecvl.AugOpticalDistortion([-0.2, 0.2], [-0.4, 0.4], "nearest", "replicate", 0),
    ecvl.AugSalt([0.1, 0.3], 0.5),
    ecvl.AugPepper([0.1, 0.3], 0.5),
    ecvl.AugSaltAndPepper([0.1, 0.3], 0.5),
    ecvl.AugNormalize(20, 5.5),
    ecvl.AugNormalize([20, 19, 21], [5, 5.5, 6]),
    ecvl.AugCenterCrop([10, 20]),
    ecvl.AugCenterCrop(),
    ecvl.AugRandomCrop([10, 20], "reflect", 3),
    ecvl.AugToFloat32(2.0, 3.0),
    ecvl.AugDivBy255(),
    ecvl.AugScaleTo(1, 255),
    ecvl.AugScaleFromTo(0.0, 255.0, -1.0, 1.0),
    ecvl.SequentialAugmentationContainer([ecvl.AugFlip(0.2), ecvl.AugMirror(0.4)]),
    ecvl.OneOfAugmentationContainer(
        0.7, [ecvl.AugFlip(0.2), ecvl.SequentialAugmentationContainer([ecvl.AugMirror(0.4)])]
    ),
]

# Augmentation texts of DeepHealth's back-end and use-case pipelines (skin lesion
# classification/segmentation, pneumothorax, pyecvl examples).
USE_CASE_TEXTS = [
    """SequentialAugmentationContainer
    AugResizeDim dims=(224,224) interp="cubic"
    AugMirror p=0.5
    AugFlip p=0.5
    AugRotate angle=[-180,180]
    AugAdditivePoissonNoise lambda=[0,10]
    AugGammaContrast gamma=[0.5,1.5]
    AugGaussianBlur sigma=[0.0,0.8]
    AugCoarseDropout p=[0,0.03] drop_size=[0.0,0.05] per_channel=0.25
    AugToFloat32 divisor=255
    AugNormalize mean=(0.6681, 0.5301, 0.5247) std=(0.1337, 0.1480, 0.1595)
end""",
    """SequentialAugmentationContainer
    AugResizeDim dims=(224,224) interp="cubic"
    AugToFloat32 divisor=255
    AugNormalize mean=(0.6681, 0.5301, 0.5247) std=(0.1337, 0.1480, 0.1595)
end""",
    """SequentialAugmentationContainer
    AugRotate angle=[-5,5] center=(0,0) scale=0.5 interp="linear"
    AugAdditiveLaplaceNoise std_dev=[0,0.51]
    AugCoarseDropout p=[0,0.55] drop_size=[0.02,0.1] per_channel=0
    AugAdditivePoissonNoise lambda=[0,40]
    AugResizeDim dims=(30,30) interp="linear"
end""",
    """SequentialAugmentationContainer
    AugResizeDim dims=(512,512) interp="linear" gt_interp="nearest"
    AugMirror p=0.5
    AugFlip p=0.5
    AugRotate angle=[-10,10]
    AugBrightness beta=[30,60]
    AugGammaContrast gamma=[3,4]
    OneOfAugmentationContainer p=0.5
        AugElasticTransform alpha=[34,60] sigma=[4,6] interp="linear" border_type="reflect_101" border_value=0
        AugGridDistortion num_steps=[5,10] distort_limit=[-0.2,0.2] interp="linear" border_type="reflect_101" border_value=0
        AugOpticalDistortion distort_limit=[-0.2,0.2] shift_limit=[-0.4,0.4] interp="linear" border_type="reflect_101" border_value=0
    end
    AugToFloat32 divisor=255 divisor_gt=255
end""",
    """SequentialAugmentationContainer
    AugCenterCrop size=(450,450)
    AugRandomCrop size=(224,224) border_type="constant" border_value=0
    AugSaltAndPepper p=[0.1,0.3] per_channel=0.5
    AugToFloat32 divisor=255.
    AugScaleFromTo old_min=0 old_max=1 new_min=-1 new_max=1
    AugDivBy255
end""",
    "AugNormalize mean=20 std=5.5",
]


EVERY += [  # the signal augmentations share the registry, factory and parser
    sa.AugTimeShift([-0.5, 0.25]),
    sa.AugAmplitudeScale([0.8, 1.2]),
    sa.AugSignalNoise([0, 0.1]),
    sa.AugBaselineWander([0, 0.5], [0.1, 0.3]),
    sa.AugPowerlineNoise([0, 0.2], 60),
    sa.AugChannelDropout(0.2),
    sa.AugTimeMask([0, 0.5]),
    sa.AugSignFlip(0.3),
]


def test_every_registered_augmentation_is_exercised():
    covered = {type(a).__name__ for a in EVERY}
    assert covered == set(REGISTRY), set(REGISTRY) ^ covered
    assert len(REGISTRY) == 35  # 25 image + 8 signal augmentations + 2 containers


@pytest.mark.parametrize("aug", EVERY, ids=lambda a: type(a).__name__)
def test_text_round_trip(aug):
    text = aug.to_text()
    back = ecvl.AugmentationFactory.create(text)
    assert type(back) is type(aug)
    assert back.to_text() == text
    assert back == aug


@pytest.mark.parametrize("aug", EVERY, ids=lambda a: type(a).__name__)
def test_fromtext_per_class(aug):
    cls = type(aug)
    text = aug.to_text()
    if isinstance(aug, ecvl.OneOfAugmentationContainer | ecvl.SequentialAugmentationContainer):
        body = text.split("\n", 1)[1]
        if isinstance(aug, ecvl.OneOfAugmentationContainer):
            body = "p=0.7\n" + body
        assert cls.fromtext(body) == aug
    else:
        params = text[len(cls.__name__) :].strip()
        assert cls.fromtext(params) == aug
        assert ecvl.AugmentationFactory.create(cls.__name__, params) == aug


@pytest.mark.parametrize("text", USE_CASE_TEXTS)
def test_use_case_texts_parse_and_round_trip(text):
    aug = ecvl.AugmentationFactory.create(text)
    again = ecvl.AugmentationFactory.create(aug.to_text())
    assert again.to_text() == aug.to_text()


def test_parsed_values_match_constructor():
    a = ecvl.AugmentationFactory.create(
        'AugRotate angle=[30, 50] center=(2, 3) scale=1.1 interp="nearest"'
    )
    assert a == ecvl.AugRotate([30, 50], [2, 3], 1.1, "nearest")
    assert a.params_["angle"].min_ == 30 and a.params_["angle"].max_ == 50
    assert ecvl.AugFlip.fromtext("") == ecvl.AugFlip(0.5)  # default p
    assert ecvl.AugToFloat32.fromtext("divisor=2. divisor_gt=3.") == ecvl.AugToFloat32(2, 3)


def test_signatures_follow_pyecvl():
    assert list(inspect.signature(ecvl.AugRotate).parameters) == [
        "angle", "center", "scale", "interp", "gt_interp",
    ]  # fmt: skip
    assert list(inspect.signature(ecvl.AugCoarseDropout).parameters) == [
        "p",
        "drop_size",
        "per_channel",
    ]
    assert ecvl.AugAdditivePoissonNoise(lambda_=[1, 2]) == ecvl.AugAdditivePoissonNoise([1, 2])


@pytest.mark.parametrize(
    ("text", "line", "column", "expected"),
    [
        ("AugRotate angle=[1,2", 1, 21, "',' or ']'"),
        ("AugRotate angle=[1;2]", 1, 19, "a name, '='"),
        ("AugFlip p 0.5", 1, 11, "'=' after parameter 'p'"),
        ('AugRotate angle=[1,2] interp="linear', 1, 37, "a closing"),
        ("SequentialAugmentationContainer\n    AugFlip p=0.5\n", 3, 1, "'end' closing"),
        (
            "SequentialAugmentationContainer\n  AugFlip p=0.5\n  AugFoo x=1\nend",
            3,
            3,
            "an augmentation name",
        ),
        ("SequentialAugmentationContainer\n  AugFlip p=[0.5,1]\nend", 2, 13, "p to be a number"),
        ("AugRotate angle=[1,2] wobble=3", 1, 23, "a parameter of AugRotate"),
        ("AugRotate scale=2", 1, 1, "parameter angle="),
        ("AugRotate angle=[1,2,3]", 1, 17, "a range of two numbers"),
        ('AugRotate angle=[1,2] interp="bilinear"', 1, 1, "valid parameter values"),
        ("AugFlip p=0.5 p=0.2", 1, 15, "each parameter once"),
        ("OneOfAugmentationContainer\n  AugFlip p=0.5\nend", 1, 1, "p=<probability>"),
        ("AugFlip p=0.5\nAugMirror p=0.5", 2, 1, "end of text"),
        ("AugResizeDim dims=[224,224]", 1, 19, "dims to be a tuple"),
    ],
)
def test_syntax_errors_name_line_column_expected(text, line, column, expected):
    with pytest.raises(ecvl.AugmentationSyntaxError) as err:
        ecvl.AugmentationFactory.create(text)
    e = err.value
    assert (e.line, e.column) == (line, column), str(e)
    assert expected in e.expected, str(e)
    assert f"line {line}, column {column}: expected" in str(e)


def test_constructor_errors_name_augmentation_and_parameter():
    with pytest.raises(ecvl.EcvlError, match="AugRotate: angle range .* min > max"):
        ecvl.AugRotate([5, -5])
    with pytest.raises(ecvl.EcvlError, match="AugFlip: p must be a probability"):
        ecvl.AugFlip(1.5)
    with pytest.raises(TypeError, match="AugGaussianBlur needs parameter 'sigma'"):
        ecvl.AugGaussianBlur()
    with pytest.raises(TypeError, match="unexpected parameter 'sigmaa'"):
        ecvl.AugGaussianBlur(sigmaa=[1, 2])
    with pytest.raises(ecvl.EcvlError, match="mean .* and std .* same form"):
        ecvl.AugNormalize([1, 2], 3)
    with pytest.raises(ecvl.EcvlError, match="containers hold augmentations"):
        ecvl.SequentialAugmentationContainer(["AugFlip"])


def test_pyecvl_enums_are_accepted():
    a = ecvl.AugResizeDim([2, 2], ecvl.InterpolationType.cubic, ecvl.InterpolationType.nearest)
    assert a == ecvl.AugResizeDim([2, 2], "cubic")
    b = ecvl.AugRandomCrop([2, 2], ecvl.BorderType.BORDER_REFLECT_101)
    assert 'border_type="reflect_101"' in b.to_text()
    assert ecvl.AugmentationFactory.create('AugRandomCrop size=(2,2) border_type="reflect101"') == b
