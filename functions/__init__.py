"""Per-channel webhook Lambda entry points (the ingress plane); each is one line over the pipeline."""
