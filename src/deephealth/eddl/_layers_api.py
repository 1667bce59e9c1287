"""Public names of the layer constructors (pyeddl's functional API), initializers and regularizers.

Importing this module imports every layer family, so the layer table `LAYER_TYPES` is complete.
"""

from deephealth.eddl.layers.activations import (
    Activation,
    Elu,
    Exponential,
    HardSigmoid,
    LeakyReLu,
    Linear,
    ReLu,
    Selu,
    Sigmoid,
    Softmax,
    Softplus,
    Softsign,
    Tanh,
    ThresholdedReLu,
)
from deephealth.eddl.layers.attention import MultiHeadAttention, PositionalEmbedding
from deephealth.eddl.layers.augmentation import (
    CenteredCrop,
    Crop,
    CropScale,
    Cutout,
    Flip,
    HorizontalFlip,
    RandomCrop,
    RandomCropScale,
    RandomCutout,
    RandomFlip,
    RandomHorizontalFlip,
    RandomRotation,
    RandomScale,
    RandomShift,
    RandomVerticalFlip,
    Rotate,
    Scale,
    Shift,
    VerticalFlip,
)
from deephealth.eddl.layers.auxiliary import (
    Bypass,
    ConstOfTensor,
    GaussGenerator,
    Shape,
    Transform,
    UniformGenerator,
    Where,
)
from deephealth.eddl.layers.conv import (
    Conv,
    Conv1D,
    Conv2D,
    Conv3D,
    ConvT,
    ConvT2D,
    ConvT3D,
    DepthwiseConv2D,
    PointwiseConv,
    PointwiseConv2D,
)
from deephealth.eddl.layers.core import Dense, Input
from deephealth.eddl.layers.dropout import Dropout
from deephealth.eddl.layers.embedding import Embedding
from deephealth.eddl.layers.gaussian_noise import GaussianNoise
from deephealth.eddl.layers.init import (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    RandomNormal,
    RandomUniform,
)
from deephealth.eddl.layers.merge import (
    Add,
    Average,
    Concat,
    Diff,
    Div,
    MatMul,
    Maximum,
    Minimum,
    Mult,
    Pow,
    Sub,
    Subtract,
    Sum,
)
from deephealth.eddl.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
)
from deephealth.eddl.layers.pooling import (
    AveragePool,
    AveragePool1D,
    AveragePool2D,
    AveragePool3D,
    AvgPool,
    AvgPool1D,
    AvgPool2D,
    AvgPool3D,
    GlobalAveragePool,
    GlobalAveragePool1D,
    GlobalAveragePool2D,
    GlobalAveragePool3D,
    GlobalAvgPool,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalAvgPool3D,
    GlobalMaxPool,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPool3D,
    MaxPool,
    MaxPool1D,
    MaxPool2D,
    MaxPool3D,
)
from deephealth.eddl.layers.recurrent import (
    GRU,
    LSTM,
    RNN,
    GetStates,
    States,
    getStates,
    setDecoder,
)
from deephealth.eddl.layers.reductions import (
    ReduceArgMax,
    ReduceMax,
    ReduceMean,
    ReduceMin,
    ReduceSum,
    ReduceVar,
)
from deephealth.eddl.layers.regularizers import L1, L1L2, L2
from deephealth.eddl.layers.shape import (
    Flatten,
    Pad,
    Permute,
    Reshape,
    Resize,
    Select,
    Slice,
    Split,
    Squeeze,
    Transpose,
    Unsqueeze,
    UpSampling,
    UpSampling2D,
    UpSampling3D,
)
from deephealth.eddl.layers.tiling import Broadcast, Expand, Repeat, Tile
from deephealth.eddl.layers.unary import Abs, Clamp, Clip, Exp, Log, Log2, Log10, Sqrt

__all__ = [
    # core
    "Input", "Dense", "Dropout", "Flatten", "Reshape", "Permute", "Squeeze", "Unsqueeze",
    "Select", "Slice", "Split", "Transpose", "Embedding", "Pad", "UpSampling", "UpSampling2D",
    "UpSampling3D", "Resize", "GaussianNoise", "Repeat", "Tile", "Expand", "Broadcast",
    # auxiliary
    "ConstOfTensor", "GaussGenerator", "UniformGenerator", "Shape", "Where", "Bypass", "Transform",
    # activations
    "Activation", "ReLu", "LeakyReLu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "Softmax",
    "Softplus", "Softsign", "Tanh", "Linear", "Exponential", "ThresholdedReLu",
    # convolution
    "Conv", "Conv1D", "Conv2D", "Conv3D", "ConvT", "ConvT2D", "ConvT3D", "DepthwiseConv2D",
    "PointwiseConv", "PointwiseConv2D",
    # pooling
    "MaxPool", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AveragePool", "AveragePool1D",
    "AveragePool2D", "AveragePool3D", "AvgPool", "AvgPool1D", "AvgPool2D", "AvgPool3D",
    "GlobalMaxPool", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
    "GlobalAveragePool", "GlobalAveragePool1D", "GlobalAveragePool2D", "GlobalAveragePool3D",
    "GlobalAvgPool", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
    # normalization
    "BatchNormalization", "LayerNormalization", "GroupNormalization",
    # attention
    "MultiHeadAttention", "PositionalEmbedding",
    # merge, operators, reductions
    "Add", "Average", "Concat", "Subtract", "Maximum", "Minimum", "MatMul", "Mult", "Div", "Sum",
    "Diff", "Sub", "Abs", "Exp", "Log", "Log2", "Log10", "Sqrt", "Pow", "Clamp", "Clip",
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceVar", "ReduceArgMax",
    # recurrent
    "RNN", "LSTM", "GRU",
    "States", "GetStates", "getStates", "setDecoder",
    # augmentation
    "Flip", "HorizontalFlip", "VerticalFlip", "Crop", "CenteredCrop", "CropScale", "Cutout",
    "Rotate", "Shift", "Scale", "RandomFlip", "RandomHorizontalFlip", "RandomVerticalFlip",
    "RandomCrop", "RandomCropScale", "RandomCutout", "RandomRotation", "RandomShift",
    "RandomScale",
    # initializers and regularizers
    "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "RandomNormal", "RandomUniform",
    "Constant", "L1", "L2", "L1L2",
]  # fmt: skip
