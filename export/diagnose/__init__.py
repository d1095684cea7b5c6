"""`pocketml diagnose`: where an exported file starts to drift from PyTorch, layer by layer."""
