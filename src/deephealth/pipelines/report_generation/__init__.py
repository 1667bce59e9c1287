"""Report generation from images (UC5): synthetic image–report data with exactly known findings,
a word-level vocabulary, a CNN encoder + LSTM decoder built with the EDDL API, greedy and beam
search decoding, text metrics (BLEU, ROUGE-L, CIDEr) and clinical correctness (findings F1)."""
