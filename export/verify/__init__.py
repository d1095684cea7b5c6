"""Proving the files: parity in every runtime, the input sets it runs, the decisions it
compares, fp16 arithmetic, and the golden cases of the app's self-check."""
