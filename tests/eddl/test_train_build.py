"""build, computing services (device selection and errors), setlr, toCPU/toGPU, summary, plot."""

import shutil
import warnings

import numpy as np
import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl.computing import ComputingService
from deephealth.eddl.training.state import get_state

NO_GPU = not torch.cuda.is_available()


def mlp(n_out=3):
    in_ = eddl.Input([4])
    x = eddl.ReLu(eddl.Dense(in_, 8, name="hidden"))
    out = eddl.Softmax(eddl.Dense(x, n_out, name="logits"))
    return eddl.Model([in_], [out]), in_, out


def test_build_attaches_state_and_fuses_softmax_into_sce():
    net, _, out = mlp()
    eddl.build(net, eddl.sgd(0.1), ["sce"], ["accuracy"], eddl.CS_CPU(1))
    st = get_state(net)
    assert st.fused == [("softmax", -1)]
    assert st.optimizer.param_groups[0]["lr"] == 0.1
    x = torch.randn(5, 4)
    logits = st.train_graph(x)[0]
    torch.testing.assert_close(torch.softmax(logits, -1), st.graph(x)[0])
    assert torch.get_num_threads() == 1


def test_build_without_fusion_for_mse_and_init_weights_false_keeps_weights():
    net, _, _ = mlp()
    eddl.build(net, eddl.adam(), ["mse"], ["mse"], eddl.CS_CPU(1))
    assert get_state(net).fused == [None]
    before = [p.clone() for p in net.graph.parameters()]
    eddl.build(net, eddl.adam(), ["mse"], ["mse"], eddl.CS_CPU(1), init_weights=False)
    assert all(torch.equal(a, b) for a, b in zip(before, net.graph.parameters()))
    eddl.build(net, eddl.adam(), ["mse"], ["mse"], eddl.CS_CPU(1), init_weights=True)
    assert not all(torch.equal(a, b) for a, b in zip(before, net.graph.parameters()))


def test_build_errors():
    net, _, _ = mlp()
    with pytest.raises(ValueError, match="both given or both None"):
        eddl.build(net, eddl.sgd(), ["sce"], None)
    with pytest.raises(ValueError, match=r"1 output\(s\) \['softmax.*'\] but 2 loss"):
        eddl.build(net, eddl.sgd(), ["sce", "mse"], ["acc", "acc"])
    with pytest.raises(ValueError, match="1 output.* but 2 metric entries"):
        eddl.build(net, eddl.sgd(), ["sce"], ["acc", "mse"])
    with pytest.raises(ValueError, match="unknown loss 'sse'"):
        eddl.build(net, eddl.sgd(), ["sse"], ["acc"])
    with pytest.raises(ValueError, match="unknown optimizer 'sdg'"):
        eddl.build(net, "sdg", ["sce"], ["acc"])
    with pytest.raises(eddl.NotBuiltError, match="is not built; call eddl.build"):
        eddl.fit(mlp()[0], [torch.zeros(2, 4)], [torch.zeros(2, 3)], 2, 1)


def test_optimizer_by_name_and_several_metrics_per_output():
    net, _, _ = mlp()
    eddl.build(net, "rmsprop", ["cce"], [["accuracy", "mse"]], eddl.CS_CPU(1))
    st = get_state(net)
    assert isinstance(st.optimizer, torch.optim.RMSprop)
    assert st.metric_names() == ["accuracy", "mse"]


def test_setlr_changes_torch_param_groups():
    net, _, _ = mlp()
    eddl.build(net, eddl.sgd(0.1, 0.5), ["sce"], ["acc"], eddl.CS_CPU(1))
    eddl.setlr(net, [0.01, 0.9])
    group = get_state(net).optimizer.param_groups[0]
    assert group["lr"] == 0.01 and group["momentum"] == 0.9
    eddl.setlr(net, 0.5)
    assert get_state(net).optimizer.param_groups[0]["lr"] == 0.5
    eddl.build(net, None, ["sce"], ["acc"], eddl.CS_CPU(1))
    with pytest.raises(ValueError, match="without an optimizer"):
        eddl.setlr(net, [0.1])


def test_cs_cpu_threads(monkeypatch):
    assert eddl.CS_CPU(3).cpu_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert eddl.CS_CPU().cpu_threads() == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert eddl.CS_CPU().cpu_threads() >= 1
    with pytest.raises(ValueError, match="th >= 1 or th = -1"):
        eddl.CS_CPU(0)
    with pytest.raises(ValueError, match="unknown memory mode 'big'"):
        eddl.CS_CPU(1, "big")
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        eddl.CS_CPU(1, precision="fp8")


def test_cs_gpu_arguments():
    cs = eddl.CS_GPU([1, 0, 1], lsb=2, mem="low_mem")
    assert cs.gpus == [1, 0, 1] and cs.lsb == 2 and cs.kind == "gpu"
    assert eddl.CS_GPU([1], "low_mem").mem == "low_mem"  # EDDL's (g, mem) overload
    assert eddl.CS_GPU(2).gpus == [1, 1]
    assert eddl.CS_CUDNN is eddl.CS_GPU
    with pytest.raises(ValueError, match="selects no GPU"):
        eddl.CS_GPU([0, 0])
    with pytest.raises(ValueError, match="0/1 mask"):
        eddl.CS_GPU([2])
    with pytest.raises(ValueError, match="lsb >= 1"):
        eddl.CS_GPU([1], lsb=0)


@pytest.mark.skipif(not NO_GPU, reason="checks the no-GPU error path")
def test_gpu_requested_without_gpu_is_a_clear_error_and_fallback_warns():
    net, _, _ = mlp()
    with pytest.raises(eddl.DeviceError, match="torch sees no CUDA GPU; use CS_CPU"):
        eddl.build(net, eddl.sgd(), ["sce"], ["acc"], eddl.CS_GPU([1]))
    with pytest.raises(eddl.DeviceError, match="no CUDA GPU"):
        eddl.toGPU(net, [1])
    with pytest.warns(RuntimeWarning, match="falling back to the CPU"):
        eddl.build(net, eddl.sgd(), ["sce"], ["acc"], eddl.CS_GPU([1], fallback_to_cpu=True))
    assert get_state(net).device.type == "cpu"


@pytest.mark.skipif(NO_GPU, reason="needs CUDA")
def test_gpu_mask_beyond_device_count_is_an_error():
    mask = [0] * torch.cuda.device_count() + [1]
    with pytest.raises(eddl.DeviceError, match="only .* GPU"):
        eddl.CS_GPU(mask).devices()


def test_toCPU_keeps_weights_and_optimizer_state():
    net, _, _ = mlp()
    eddl.build(net, eddl.adam(0.01), ["sce"], ["acc"], eddl.CS_CPU(1))
    x, y = torch.randn(8, 4), torch.eye(3)[torch.randint(0, 3, (8,))]
    eddl.train_batch(net, [x], [y])
    before = [p.clone() for p in net.graph.parameters()]
    state_before = get_state(net).optimizer.state_dict()["state"][0]["exp_avg"].clone()
    eddl.toCPU(net, 1)
    st = get_state(net)
    assert all(torch.equal(a, b) for a, b in zip(before, net.graph.parameters()))
    assert torch.equal(st.optimizer.state_dict()["state"][0]["exp_avg"], state_before)
    unbuilt, _, _ = mlp()
    eddl.toCPU(unbuilt, 1)
    assert unbuilt.cs is not None and unbuilt.cs.threads == 1


def test_bf16_mixed_precision_on_cpu_trains():
    torch.manual_seed(0)
    net, _, _ = mlp()
    eddl.build(net, eddl.adam(0.01), ["sce"], ["acc"], eddl.CS_CPU(1, precision="bf16"))
    x = torch.randn(64, 4)
    y = torch.eye(3)[(x[:, 0] > 0).long() + (x[:, 1] > 0).long()]
    eddl.fit(net, [x], [y], 16, 30, verbose=0)
    assert eddl.evaluate(net, [x], [y], verbose=0)["acc"] > 0.8


def test_summary_table(capsys):
    net, _, _ = mlp()
    eddl.setTrainable(net, "hidden", False)
    text = eddl.summary(net)
    assert capsys.readouterr().out.strip() == text.strip()
    lines = text.splitlines()
    hidden = next(line for line in lines if line.startswith("hidden"))
    assert "Dense" in hidden and "[8]" in hidden and hidden.rstrip().endswith("40")
    assert "Total params: 67" in text
    assert "Trainable params: 27" in text and "Non-trainable params: 40" in text


def test_plot_with_graphviz_and_dot_fallback(tmp_path, monkeypatch):
    net, _, _ = mlp()
    dot_file = eddl.plot(net, tmp_path / "net.dot")
    text = dot_file.read_text()
    assert "rankdir=LR" in text and text.count("->") == 4 and "hidden|Dense|[8]" in text
    if shutil.which("dot"):
        out = eddl.plot(net, tmp_path / "net.svg", "TB")
        assert out.suffix == ".svg" and "<svg" in out.read_text()
    monkeypatch.setenv("PATH", "")
    with pytest.warns(RuntimeWarning, match="Graphviz 'dot' is not installed"):
        out = eddl.plot(net, tmp_path / "x.pdf")
    assert out.suffix == ".dot" and "digraph" in out.read_text()
    with pytest.raises(ValueError, match="direction must be"):
        eddl.plot(net, tmp_path / "y.pdf", "XX")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        eddl.plot(net, tmp_path / "no" / "y.pdf")


def test_computing_service_is_a_value_object():
    assert eddl.CS_CPU(2) == ComputingService("cpu", threads=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert eddl.CS_CPU(1).devices() == [torch.device("cpu")]


@pytest.mark.skipif(not NO_GPU, reason="checks the no-GPU exit path")
def test_gpu_check_script_exits_cleanly_without_gpu(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([]) == []
    assert "no CUDA GPU on this machine" in capsys.readouterr().out


def test_model_build_method_as_in_old_pyeddl_examples():
    net, _, _ = mlp()
    net.build(
        eddl.sgd(0.01, 0.9), [eddl.getLoss("soft_cross_entropy")], ["accuracy"], eddl.CS_CPU(1)
    )
    st = get_state(net)
    assert st.loss_names() == ["soft_cross_entropy"] and st.spec.params["momentum"] == 0.9


def test_channels_last_mode_gives_the_same_training():
    rng = np.random.default_rng(0)
    x = rng.random((16, 3, 8, 8), dtype=np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)]
    results = []
    for channels_last in (False, True):
        eddl.set_seed(0)
        in_ = eddl.Input([3, 8, 8])
        h = eddl.MaxPool2D(eddl.ReLu(eddl.Conv2D(in_, 8, [3, 3])), [2, 2])
        net = eddl.Model([in_], [eddl.Softmax(eddl.Dense(eddl.Flatten(h), 4))])
        eddl.build(
            net, eddl.sgd(0.1), ["sce"], ["acc"], eddl.CS_CPU(1, channels_last=channels_last)
        )
        eddl.fit(net, [x], [y], 8, 2, shuffle=False, verbose=0)
        results.append(np.array(eddl.predict(net, [x])[0]))
        conv = net.layers[1].module.weight
        assert net.layers[1].kind.startswith("Conv")
        assert conv.is_contiguous(memory_format=torch.channels_last) == channels_last
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-5)


def test_data_parallel_strategy_wraps_both_graphs_and_trains():
    """On a CPU machine torch's DataParallel is a pass-through: the wiring itself is checked."""
    net, _, _ = mlp()
    device = torch.device("cpu" if NO_GPU else "cuda:0")
    strategy = eddl.DataParallelStrategy([device])
    cs = eddl.CS_CPU(1) if NO_GPU else eddl.CS_GPU([1])
    eddl.build(net, eddl.sgd(0.1), ["sce"], ["acc"], cs, strategy=strategy)
    st = get_state(net)
    assert isinstance(st.graph, torch.nn.DataParallel)
    assert isinstance(st.train_graph, torch.nn.DataParallel)
    x, y = torch.randn(16, 4), torch.eye(3)[torch.randint(0, 3, (16,))]
    before = [p.clone() for p in net.graph.parameters()]
    eddl.fit(net, [x], [y], 8, 1, verbose=0)
    assert not all(torch.equal(a, b) for a, b in zip(before, net.graph.parameters()))
    with pytest.raises(eddl.NotBuiltError):
        eddl.setlogfile(mlp()[0], "log.txt")
