"""Making the files: the exporter loop, one module per format, shape plans, fp16 layers, and
users' own modules."""
