#!/usr/bin/env python
"""Generate the synthetic ShapeNet-like dataset (same as the `recon-synth` command)."""
from recon.data.synthetic import main

if __name__ == "__main__":
    raise SystemExit(main())
