"""The signal classification pipeline: synthetic EEG, windows task, event metrics, runner."""
