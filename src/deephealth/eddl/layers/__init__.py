"""The layer IR and the layer families, one module each.

`base` holds the `Layer` node and the layer table; `core`, `activations`, `shape`, `conv`,
`pooling`, `normalization`, `merge`, `recurrent` and `augmentation` register their kinds when
imported; `init` and `regularizers` hold the weight initializers and penalties. The public
constructors are gathered in `deephealth.eddl` (see `deephealth/eddl/_layers_api.py`).
"""
