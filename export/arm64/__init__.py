"""`pocketml verify DIR --arm64`: every exported file run by the aarch64 builds of its runtime
(LiteRT, ONNX Runtime), the code a phone runs, under qemu's user-mode emulation of real ARM CPU
models. Kept free of imports: guest.py, run by the emulated Python, imports this package."""
