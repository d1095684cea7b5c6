"""The model folder on disk: the floor that train/ and export/ both stand on.

Its files and their names (artifacts), the weights and the architecture that rebuilds them
(weights), staged-then-swapped writes and locks (replace), the manifest, the training record
(custody), signatures (signing), and the PyTorch reference run that custody and parity share
(reference). It imports neither train/ nor export/; the bundle contract's names come from the
app's own package (pocketapp.contract), since the app cannot import the desktop."""
