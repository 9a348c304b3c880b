#!/usr/bin/env python
"""Convert ShapeNetCore v1/v2 into the ShapeNet renders format (same as `recon-convert`)."""
from recon.data.convert import main

if __name__ == "__main__":
    raise SystemExit(main())
