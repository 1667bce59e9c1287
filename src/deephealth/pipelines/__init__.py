"""Use-case pipelines on EDDL and ECVL: configs, metrics, tasks, KPI reports and the run API.

`deephealth.pipelines.run.train(config, run_dir)` goes from a DeepHealth dataset to a checked ONNX
model and a KPI report; `evaluate` and `predict` use that model. See docs/pipelines.md.
"""
