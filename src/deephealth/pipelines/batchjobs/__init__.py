"""Dataset-scale jobs (preprocessing, batch inference) on a process pool or a Dask cluster."""
